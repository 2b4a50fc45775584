// The TLS flags of `skald serve` and `skald dev` (docs/tls.md), of the client commands, and
// the warning a coordinator gives when it listens in plaintext beyond this machine.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/server/server_options.h"

namespace CLI {
class App;
}

namespace skald::cli {

struct ClientFlags;
struct TlsFlags;

// Adds the --tls-*, --participant-tls-*, --http-tls-* and --tls-reload-interval options.
void AddTlsFlags(CLI::App& command, TlsFlags& flags);

// Adds --tls-ca (default $SKALD_TLS_CA), --tls-cert and --tls-key to a client command.
void AddClientTlsFlags(CLI::App& command, ClientFlags& flags);

// Sets options.tls, http_tls, participant_tls and tls_reload_interval as `flags` ask, and
// checks every file named (readable, PEM, key matching its certificate). INVALID_ARGUMENT
// naming the flag and the problem otherwise.
absl::Status ApplyTlsFlags(const TlsFlags& flags, server::ServerOptions& options);

// True when the host of `listen_address` ("host:port", "[v6]:port", or a gRPC "unix:"
// address) is only reachable from this machine: 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z),
// "localhost", or a unix socket. False for wildcards ("0.0.0.0", "::", "") and anything else.
bool IsLoopbackAddress(const std::string& listen_address);

// Returns the lines of the warning for the ports `options` would serve in plaintext on a
// non-loopback address; empty when there is nothing to warn about.
std::vector<std::string> PlaintextWarning(const server::ServerOptions& options);

}  // namespace skald::cli
