// Checks of PEM files before they are handed to gRPC or cpp-httplib, which report a bad file
// only later, at the first handshake, and without naming it.
#ifndef SKALD_TLS_PEM_FILES_H_
#define SKALD_TLS_PEM_FILES_H_

#include <string>

#include "absl/status/status.h"

namespace skald::tls {

// Returns OK when `path` holds at least one PEM certificate (a chain or a CA bundle);
// INVALID_ARGUMENT naming `what` (e.g. "--tls-cert") and the file otherwise.
absl::Status CheckCertificateFile(const std::string& what, const std::string& path);

// Returns OK when `key_path` holds a PEM private key that belongs to the first certificate
// in `cert_path`; INVALID_ARGUMENT naming the files and what is wrong otherwise.
absl::Status CheckKeyPair(const std::string& cert_path, const std::string& key_path);

}  // namespace skald::tls

#endif  // SKALD_TLS_PEM_FILES_H_
