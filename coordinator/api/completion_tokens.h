#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/core/completion_token.h"
#include "coordinator/store/connection.h"

namespace skald::api {

// Mints and opens completion tokens (core/completion_token.h): the claims signed with
// HMAC-SHA256 under the cluster's secret. Every coordinator of the cluster loads the same
// secret, so a token minted by one opens on any other, and nothing is stored per token; a
// token is the same for every delivery of one attempt. Thread-safe (immutable).
class CompletionTokens {
 public:
  // REQUIRES: key.size() >= 32.
  explicit CompletionTokens(std::string key) : key_(std::move(key)) {}

  // Loads the cluster's secret "completion_tokens" from the database, creating it (32
  // random bytes from OpenSSL) when no coordinator has yet.
  static absl::StatusOr<CompletionTokens> Load(store::ConnectionPool& pool);

  std::string Mint(const core::CompletionClaims& claims) const;

  // Returns the claims of a token this cluster minted. NOT_FOUND "unknown or forged
  // completion token" for anything else: the size is bounded before anything is decoded,
  // and the MAC compared in constant time.
  absl::StatusOr<core::CompletionClaims> Open(std::string_view token) const;

 private:
  std::string Mac(std::string_view payload) const;

  std::string key_;
};

}  // namespace skald::api
