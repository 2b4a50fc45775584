#pragma once

#include <string>

#include "coordinator/api/server.h"
#include "coordinator/cli/commands.h"

namespace skald::cli {

// Runs a coordinator with `options` until SIGINT or SIGTERM, then shuts it down. Writes the
// bound address to `ready_file` (when not empty) once serving. Returns the exit code.
// `shutdown_grace` is a duration ("10s") bounding the wait for calls in flight at shutdown.
int ServeUntilSignalled(const api::ServerOptions& options, const std::string& ready_file,
                        const std::string& shutdown_grace);

// Returns the API limits the flags ask for.
api::ApiLimits ToApiLimits(const LimitFlags& flags);

}  // namespace skald::cli
