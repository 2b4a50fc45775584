#include "tls/pem_files.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace skald::tls {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

absl::Status ReadFile(const std::string& what, const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(what + " " + path + ": cannot read it (" +
                                      std::strerror(errno) + ")");
  }
  std::stringstream text;
  text << in.rdbuf();
  *contents = text.str();
  return absl::OkStatus();
}

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& contents) {
  return std::unique_ptr<BIO, BioFree>(
      BIO_new_mem_buf(contents.data(), static_cast<int>(contents.size())));
}

}  // namespace

absl::Status CheckCertificateFile(const std::string& what, const std::string& path) {
  std::string contents;
  if (absl::Status read = ReadFile(what, path, &contents); !read.ok()) return read;
  auto bio = MemoryBio(contents);
  std::unique_ptr<X509, X509Free> first(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (first == nullptr) {
    return absl::InvalidArgumentError(
        what + " " + path + ": no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")");
  }
  return absl::OkStatus();
}

absl::Status CheckKeyPair(const std::string& cert_path, const std::string& key_path) {
  std::string cert_pem, key_pem;
  if (absl::Status read = ReadFile("certificate", cert_path, &cert_pem); !read.ok()) return read;
  if (absl::Status read = ReadFile("private key", key_path, &key_pem); !read.ok()) return read;
  auto cert_bio = MemoryBio(cert_pem);
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  auto key_bio = MemoryBio(key_pem);
  // No passphrase callback: an encrypted key cannot be used by a server that starts alone.
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, const_cast<char*>("")));
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError("certificate " + cert_path + ": no PEM certificate in it");
  }
  if (key == nullptr) {
    return absl::InvalidArgumentError("private key " + key_path +
                                      ": no unencrypted PEM private key in it");
  }
  const bool matches = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError("private key " + key_path +
                                      " does not belong to the certificate " + cert_path);
  }
  return absl::OkStatus();
}

}  // namespace skald::tls
