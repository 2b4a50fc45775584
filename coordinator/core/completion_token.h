#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/core/saga_state.h"

// The completion token's shape (StepCall.completion_token): what it binds and how its
// parts are laid out. Pure: the MAC over the payload is computed by the caller
// (api/completion_tokens.h, HMAC-SHA256 under the cluster's secret), so that this file
// needs no cryptography and can be fuzzed and tested alone.
//
//   "skc1." base64url(payload) "." base64url(mac)
//   payload = saga id "\n" step index "\n" "a" | "c" "\n" attempt
namespace skald::core {

// What one token is for: one attempt of one phase of one step of one saga.
struct CompletionClaims {
  std::string saga_id;
  int step = 0;
  Phase phase = Phase::kAction;
  int attempt = 0;
  bool operator==(const CompletionClaims&) const = default;
};

// Longer tokens are refused before anything is decoded: a saga id is at most a few hundred
// bytes, the MAC 32.
inline constexpr size_t kMaxCompletionTokenBytes = 1024;
inline constexpr size_t kCompletionMacBytes = 32;

// The bytes the MAC is computed over.
std::string CompletionPayload(const CompletionClaims& claims);

// Returns the token of `payload` and its `mac`.
std::string AssembleCompletionToken(std::string_view payload, std::string_view mac);

struct CompletionTokenParts {
  std::string payload;
  std::string mac;
};

// Splits a token into its payload and MAC, both decoded. NOT_FOUND "unknown or forged
// completion token" (never echoing the token) for anything not of the shape: empty, over
// kMaxCompletionTokenBytes, another prefix, bad base64url, a MAC of the wrong length.
absl::StatusOr<CompletionTokenParts> SplitCompletionToken(std::string_view token);

// Reads a payload whose MAC was checked. NOT_FOUND as above when it is malformed.
absl::StatusOr<CompletionClaims> ParseCompletionPayload(std::string_view payload);

// The one answer to a token that does not open, whatever the reason.
absl::Status UnknownCompletionToken();

}  // namespace skald::core
