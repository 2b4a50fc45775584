// Throwaway certificate authorities and certificates for TLS tests, made with the `openssl`
// command in a directory the test owns.
#ifndef SKALD_TESTS_SUPPORT_TEST_CERTIFICATES_H_
#define SKALD_TESTS_SUPPORT_TEST_CERTIFICATES_H_

#include <string>

#include "absl/status/statusor.h"

namespace skald::testing {

// The names a certificate for a server on loopback must carry.
inline constexpr const char* kLoopbackNames = "IP:127.0.0.1,DNS:localhost";

// A PEM certificate and its private key.
struct CertificateFiles {
  std::string cert_file;
  std::string key_file;
};

// A certificate authority valid for two days, with EC P-256 keys.
class TestCa {
 public:
  // Creates a CA called `name` (the certificate's CN) with its files in `dir`
  // (`dir`/<name>-ca.pem and .key). REQUIRES: `dir` exists; `name` is a file-name-safe word
  // unique in `dir`.
  static absl::StatusOr<TestCa> Create(const std::string& dir, const std::string& name);

  // The CA's certificate: what a peer trusts.
  const std::string& cert_file() const { return ca_.cert_file; }

  // Issues a certificate called `name` (`dir`/<name>.pem and .key) signed by this CA, for
  // both server and client authentication, with subject alternative names `names`.
  absl::StatusOr<CertificateFiles> Issue(const std::string& name,
                                         const std::string& names = kLoopbackNames) const;

 private:
  TestCa(std::string dir, CertificateFiles ca) : dir_(std::move(dir)), ca_(std::move(ca)) {}

  std::string dir_;
  CertificateFiles ca_;
};

}  // namespace skald::testing

#endif  // SKALD_TESTS_SUPPORT_TEST_CERTIFICATES_H_
