#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Who may call the coordinator's APIs, and what they may do (docs/security.md). Pure: the
// token table is data, the checks are functions of it; the gRPC and HTTP adapters call the
// same checks through AccessGuard.
namespace skald::api {

enum class Role { kSubmitter, kOperator, kParticipant };

// Returns "submitter", "operator" or "participant".
std::string_view RoleName(Role role);

// One configured token: its SHA-256 (the token itself is never stored), its name (recorded
// as the caller's identity), its roles and the definition namespaces it may use ("*": all).
struct TokenEntry {
  std::string name;
  std::array<uint8_t, 32> sha256{};
  std::set<Role> roles;
  std::vector<std::string> namespaces;
};

// An authenticated caller, or the anonymous caller every request is when auth is off.
struct Caller {
  std::string name;
  std::set<Role> roles;
  std::vector<std::string> namespaces;
  // Auth is off: every check passes.
  bool unrestricted = false;
};

// What a request asks to do. The namespace is that of the definition concerned.
enum class Permission {
  kApplyDefinition,  // submitter of the namespace
  kStartSaga,        // submitter of the namespace
  kRead,             // submitter of the namespace, or operator (any namespace)
  kOperate,          // operator of the namespace (abort, retry, skip)
  kRegister,         // participant (ParticipantRegistry Register / Deregister)
  kComplete,         // participant of the namespace (CompleteStep, Heartbeat)
  kListParticipants  // any role
};

// Returns the namespace of a definition: its name up to the first '.', or the whole name
// when it has none ("order.checkout" -> "order", "billing" -> "billing").
std::string NamespaceOf(std::string_view definition_name);

// Returns the lowercase hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

// Parses a tokens file: {"tokens": [{"name", "sha256", "roles", "namespaces"}]}.
// INVALID_ARGUMENT naming the entry and field for anything malformed: an unknown role or
// field, a hash that is not 64 hex digits, a repeated name or hash, no roles.
absl::StatusOr<std::vector<TokenEntry>> ParseTokensFile(std::string_view json_text);

class Authorizer {
 public:
  // Auth off: every request is the unrestricted anonymous caller.
  Authorizer() = default;
  explicit Authorizer(std::vector<TokenEntry> tokens)
      : tokens_(std::move(tokens)), enabled_(true) {}

  bool enabled() const { return enabled_; }

  // Returns the caller presenting `authorization` (the header or metadata value, "Bearer
  // <token>"). UNAUTHENTICATED when it is missing, malformed or matches no token. Every
  // configured hash is compared, in constant time, whatever matches.
  absl::StatusOr<Caller> Authenticate(std::string_view authorization) const;

  // OK when `caller` may do `permission` on definitions named `definition` (its namespace
  // decides). An empty `definition` means every namespace (a list without a definition
  // filter). PERMISSION_DENIED naming the caller, what it asked and what it lacks.
  static absl::Status Authorize(const Caller& caller, Permission permission,
                                std::string_view definition = "");

 private:
  std::vector<TokenEntry> tokens_;
  bool enabled_ = false;
};

}  // namespace skald::api
