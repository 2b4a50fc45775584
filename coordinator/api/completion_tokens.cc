#include "coordinator/api/completion_tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "coordinator/store/cluster_secret.h"

namespace skald::api {

// GCC 12 warns falsely (-Warray-bounds, -Wstringop-*; GCC bug 105651) about the std::string moves
// it inlines here once the shell's precompiled header is in: the warning, not the code, is wrong.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wstringop-overread"
absl::StatusOr<CompletionTokens> CompletionTokens::Load(store::ConnectionPool& pool) {
  std::string candidate(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(candidate.data()),
                 static_cast<int>(candidate.size())) != 1) {
    return absl::InternalError("no random bytes for the completion token secret (OpenSSL)");
  }
  auto secret = store::LoadOrCreateClusterSecret(pool, "completion_tokens", candidate);
  if (!secret.ok()) return secret.status();
  if (secret->size() < 32) {
    return absl::InternalError("the stored completion token secret is shorter than 32 bytes");
  }
  return CompletionTokens(*std::move(secret));
}
#pragma GCC diagnostic pop

std::string CompletionTokens::Mac(std::string_view payload) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest,
           &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");  // Only when OpenSSL cannot allocate.
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string CompletionTokens::Mint(const core::CompletionClaims& claims) const {
  const std::string payload = core::CompletionPayload(claims);
  return core::AssembleCompletionToken(payload, Mac(payload));
}

absl::StatusOr<core::CompletionClaims> CompletionTokens::Open(std::string_view token) const {
  auto parts = core::SplitCompletionToken(token);
  if (!parts.ok()) return parts.status();
  const std::string expected = Mac(parts->payload);
  if (expected.size() != parts->mac.size() ||
      CRYPTO_memcmp(expected.data(), parts->mac.data(), expected.size()) != 0) {
    return core::UnknownCompletionToken();
  }
  return core::ParseCompletionPayload(parts->payload);
}

}  // namespace skald::api
