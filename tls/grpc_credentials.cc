#include "tls/grpc_credentials.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "tls/pem_files.h"

namespace skald::tls {
namespace {

using grpc::experimental::FileWatcherCertificateProvider;

unsigned int Seconds(std::chrono::seconds interval) {
  // gRPC reads the files at most once a second anyway.
  return static_cast<unsigned int>(std::max<std::chrono::seconds::rep>(1, interval.count()));
}

absl::Status CheckIdentity(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        cert_file.empty() ? "a TLS key (" + key_file + ") needs its certificate"
                          : "a TLS certificate (" + cert_file + ") needs its private key");
  }
  if (cert_file.empty()) return absl::OkStatus();
  return CheckKeyPair(cert_file, key_file);
}

}  // namespace

absl::Status CheckServerFiles(const ServerFiles& files) {
  if (!files.enabled()) return absl::OkStatus();
  if (files.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "a TLS server needs a certificate and its private key (a client CA alone is not enough)");
  }
  if (absl::Status identity = CheckIdentity(files.cert_file, files.key_file); !identity.ok()) {
    return identity;
  }
  if (!files.client_ca_file.empty()) {
    return CheckCertificateFile("client CA", files.client_ca_file);
  }
  return absl::OkStatus();
}

absl::Status CheckChannelFiles(const ChannelFiles& files) {
  if (absl::Status identity = CheckIdentity(files.cert_file, files.key_file); !identity.ok()) {
    return identity;
  }
  if (!files.ca_file.empty()) return CheckCertificateFile("CA", files.ca_file);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerFiles& files, std::chrono::seconds reload_interval) {
  if (!files.enabled()) return grpc::InsecureServerCredentials();
  if (absl::Status checked = CheckServerFiles(files); !checked.ok()) return checked;
  auto provider = std::make_shared<FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.client_ca_file, Seconds(reload_interval));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!files.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ChannelFiles& files, std::chrono::seconds reload_interval) {
  if (!files.enabled()) return grpc::InsecureChannelCredentials();
  if (absl::Status checked = CheckChannelFiles(files); !checked.ok()) return checked;
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (!files.ca_file.empty() || !files.cert_file.empty()) {
    options.set_certificate_provider(std::make_shared<FileWatcherCertificateProvider>(
        files.key_file, files.cert_file, files.ca_file, Seconds(reload_interval)));
  }
  // Without watched roots gRPC uses the system's CA bundle.
  if (!files.ca_file.empty()) options.watch_root_certs();
  if (!files.cert_file.empty()) options.watch_identity_key_cert_pairs();
  // Said explicitly rather than left to the library's default: a certificate signed by the
  // right CA for another host is refused.
  options.set_verify_server_certs(true);
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace skald::tls
