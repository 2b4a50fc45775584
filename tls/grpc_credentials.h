// gRPC credentials built from PEM files, for servers and for channels. The files are
// checked when the credentials are built (a bad file is reported by name at start-up, not
// as a failed handshake later) and then watched: a certificate, key or CA replaced on disk
// is used for new connections within `reload_interval`, without a restart.
#ifndef SKALD_TLS_GRPC_CREDENTIALS_H_
#define SKALD_TLS_GRPC_CREDENTIALS_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace skald::tls {

// How often watched files are read again when the caller does not say.
inline constexpr std::chrono::seconds kDefaultReloadInterval{60};

// A server's TLS: its certificate (chain) and key, and, for mutual TLS, the CA that client
// certificates must be signed by. All empty: plaintext.
struct ServerFiles {
  std::string cert_file;
  std::string key_file;
  // Empty: clients are not asked for a certificate. Set: every client must present one
  // signed by this CA, or the handshake fails.
  std::string client_ca_file;

  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !client_ca_file.empty();
  }
};

// A channel's TLS: the CA the server's certificate is checked against and, for mutual TLS,
// the certificate and key this side presents. All empty: plaintext.
struct ChannelFiles {
  // Empty (with cert_file set): the system's CA bundle.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// Returns OK when `files` can be used: plaintext, or a readable certificate and its key
// (both or neither for a channel; both for a server), and a readable CA when named.
// INVALID_ARGUMENT naming the file and the problem otherwise.
absl::Status CheckServerFiles(const ServerFiles& files);
absl::Status CheckChannelFiles(const ChannelFiles& files);

// Returns server credentials for `files`: insecure when !files.enabled(), else TLS that
// requires and verifies client certificates when files.client_ca_file is set. Errors as
// CheckServerFiles.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerFiles& files, std::chrono::seconds reload_interval = kDefaultReloadInterval);

// Returns channel credentials for `files`: insecure when !files.enabled(), else TLS that
// verifies the server's certificate and that it names the host dialled (a DNS or IP
// subject alternative name), presenting files.cert_file when set. Errors as
// CheckChannelFiles.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ChannelFiles& files, std::chrono::seconds reload_interval = kDefaultReloadInterval);

}  // namespace skald::tls

#endif  // SKALD_TLS_GRPC_CREDENTIALS_H_
