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
#include "tls/tls_files.h"

namespace skald::tls {

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
