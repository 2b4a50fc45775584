#pragma once

#include <string>

#include "coordinator/api/server.h"

namespace skald::cli {

// Runs a coordinator with `options` until SIGINT or SIGTERM, then shuts it down. Writes the
// bound address to `ready_file` (when not empty) once serving. Returns the exit code.
int ServeUntilSignalled(const api::ServerOptions& options, const std::string& ready_file);

}  // namespace skald::cli
