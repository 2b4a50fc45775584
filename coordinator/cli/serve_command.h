#pragma once

#include <string>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/coordinator_flags.h"
#include "coordinator/server/server_options.h"

namespace skald::cli {

// Runs a coordinator with `options` until SIGINT or SIGTERM, then shuts it down. Writes the
// bound address to `ready_file`, and the HTTP port's to `http_ready_file`, (each when not
// empty) once serving. Returns the exit code. `shutdown_grace` is a duration ("10s")
// bounding the wait for calls in flight at shutdown.
int ServeUntilSignalled(const server::ServerOptions& options, const std::string& ready_file,
                        const std::string& shutdown_grace, const std::string& http_ready_file = "");

}  // namespace skald::cli
