// Which PEM files a server or a channel uses for TLS, and their checks: plain structs, so that
// code that only fills or checks them (the coordinator's flags) does not compile gRPC.
#ifndef SKALD_TLS_TLS_FILES_H_
#define SKALD_TLS_TLS_FILES_H_

#include <chrono>
#include <string>

#include "absl/status/status.h"

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

}  // namespace skald::tls

#endif  // SKALD_TLS_TLS_FILES_H_
