// The flags `skald serve` and `skald dev` share (listen addresses, ready files, the HTTP
// port, limits, security, notifications, shutdown, TLS): registered once, applied once, in
// one order, so that the two commands cannot drift apart.
#pragma once

#include "absl/status/status.h"
#include "coordinator/cli/commands.h"
#include "coordinator/server/server_options.h"

namespace CLI {
class App;
}

namespace skald::cli {

// Adds the shared flags to `command`, with the values already in `flags` as defaults.
void AddCoordinatorFlags(CLI::App& command, CoordinatorFlags& flags);

// Sets in `options` what the shared flags ask for, in this order: limits, notifications,
// security (tokens, redaction), TLS, then the addresses. Returns the first refusal:
// INVALID_ARGUMENT naming the flag.
absl::Status ApplyCoordinatorFlags(const CoordinatorFlags& flags, server::ServerOptions& options);

// Returns the API limits the flags ask for.
api::ApiLimits ToApiLimits(const LimitFlags& flags);

// Loads the tokens file and sets the redacted fields `flags` ask for; INVALID_ARGUMENT
// naming the flag otherwise. (security_flags.cc)
absl::Status ApplySecurityFlags(const SecurityFlags& flags, server::ServerOptions& options);

// Sets the notification and alert options `flags` ask for (the secret from
// $SKALD_NOTIFY_SECRET when the flag is empty; the destinations --notify-allow opens, none
// by default: `dev` adds loopback itself); INVALID_ARGUMENT naming the flag otherwise.
absl::Status ApplyNotifyFlags(const NotifyFlags& flags, server::ServerOptions& options);

}  // namespace skald::cli
