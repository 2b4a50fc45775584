#pragma once

#include <string>

#include "coordinator/api/server.h"
#include "coordinator/cli/commands.h"

namespace skald::cli {

// Runs a coordinator with `options` until SIGINT or SIGTERM, then shuts it down. Writes the
// bound address to `ready_file`, and the HTTP port's to `http_ready_file`, (each when not
// empty) once serving. Returns the exit code. `shutdown_grace` is a duration ("10s")
// bounding the wait for calls in flight at shutdown.
int ServeUntilSignalled(const api::ServerOptions& options, const std::string& ready_file,
                        const std::string& shutdown_grace, const std::string& http_ready_file = "");

// Returns the API limits the flags ask for.
api::ApiLimits ToApiLimits(const LimitFlags& flags);

// Loads the tokens file and sets the redacted fields `flags` ask for; INVALID_ARGUMENT
// naming the flag otherwise. (security_flags.cc)
absl::Status ApplySecurityFlags(const SecurityFlags& flags, api::ServerOptions& options);

// Sets the notification and alert options `flags` ask for (the secret from
// $SKALD_NOTIFY_SECRET when the flag is empty; the destinations --notify-allow opens, none
// by default: `dev` adds loopback itself); INVALID_ARGUMENT naming the flag otherwise.
absl::Status ApplyNotifyFlags(const NotifyFlags& flags, api::ServerOptions& options);

}  // namespace skald::cli
