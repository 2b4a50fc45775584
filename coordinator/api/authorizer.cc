#include "coordinator/api/authorizer.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

#include "nlohmann/json.hpp"

namespace skald::api {
namespace {

std::array<uint8_t, 32> Sha256(std::string_view text) {
  std::array<uint8_t, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

bool ParseHex(const std::string& hex, std::array<uint8_t, 32>* out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    const int high = nibble(hex[2 * i]);
    const int low = nibble(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    (*out)[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return true;
}

std::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kApplyDefinition:
      return "apply definitions";
    case Permission::kStartSaga:
      return "start sagas";
    case Permission::kRead:
      return "read sagas and definitions";
    case Permission::kOperate:
      return "abort, retry or skip in sagas";
    case Permission::kRegister:
      return "register participants";
    case Permission::kComplete:
      return "complete or heartbeat steps";
    case Permission::kListParticipants:
      return "list participants";
  }
  return "?";
}

bool Covers(const std::vector<std::string>& namespaces, std::string_view definition) {
  if (std::find(namespaces.begin(), namespaces.end(), "*") != namespaces.end()) return true;
  // Every namespace: only "*" covers it.
  if (definition.empty()) return false;
  const std::string wanted = NamespaceOf(definition);
  return std::find(namespaces.begin(), namespaces.end(), wanted) != namespaces.end();
}

std::string Roles(const Caller& caller) {
  std::string text;
  for (Role role : caller.roles) text += (text.empty() ? "" : ", ") + std::string(RoleName(role));
  return text.empty() ? "none" : text;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSubmitter:
      return "submitter";
    case Role::kOperator:
      return "operator";
    case Role::kParticipant:
      return "participant";
  }
  return "?";
}

std::string NamespaceOf(std::string_view definition_name) {
  return std::string(definition_name.substr(0, definition_name.find('.')));
}

std::string Sha256Hex(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t byte : Sha256(text)) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  return hex;
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokensFile(std::string_view json_text) {
  nlohmann::json document = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return absl::InvalidArgumentError("tokens file: not valid JSON");
  if (!document.is_object() || document.size() != 1 || !document.contains("tokens") ||
      !document["tokens"].is_array()) {
    return absl::InvalidArgumentError(R"(tokens file: expected {"tokens": [...]})");
  }
  std::vector<TokenEntry> entries;
  std::set<std::string> names;
  std::set<std::array<uint8_t, 32>> hashes;
  for (size_t i = 0; i < document["tokens"].size(); ++i) {
    const nlohmann::json& item = document["tokens"][i];
    const std::string where = "tokens[" + std::to_string(i) + "]";
    if (!item.is_object()) return absl::InvalidArgumentError(where + ": must be an object");
    for (const auto& [key, value] : item.items()) {
      if (key != "name" && key != "sha256" && key != "roles" && key != "namespaces") {
        return absl::InvalidArgumentError(where + ": unknown field \"" + key +
                                          "\"; expected name, sha256, roles, namespaces");
      }
    }
    TokenEntry entry;
    if (!item.contains("name") || !item["name"].is_string() ||
        item["name"].get<std::string>().empty() || item["name"].get<std::string>().size() > 100) {
      return absl::InvalidArgumentError(where + ".name: required, a string of 1 to 100 characters");
    }
    entry.name = item["name"];
    if (!names.insert(entry.name).second) {
      return absl::InvalidArgumentError(where + ".name: \"" + entry.name + "\" is used twice");
    }
    if (!item.contains("sha256") || !item["sha256"].is_string() ||
        !ParseHex(item["sha256"], &entry.sha256)) {
      return absl::InvalidArgumentError(
          where + ".sha256: required, the 64 hex digits of the token's SHA-256 " +
          "(skald token hash)");
    }
    if (!hashes.insert(entry.sha256).second) {
      return absl::InvalidArgumentError(where + ".sha256: the same token is configured twice");
    }
    if (!item.contains("roles") || !item["roles"].is_array() || item["roles"].empty()) {
      return absl::InvalidArgumentError(where + ".roles: required, a non-empty list");
    }
    for (const nlohmann::json& role : item["roles"]) {
      const std::string text = role.is_string() ? role.get<std::string>() : role.dump();
      if (text == "submitter") {
        entry.roles.insert(Role::kSubmitter);
      } else if (text == "operator") {
        entry.roles.insert(Role::kOperator);
      } else if (text == "participant") {
        entry.roles.insert(Role::kParticipant);
      } else {
        return absl::InvalidArgumentError(where + ".roles: unknown role " + role.dump() +
                                          "; expected submitter, operator or participant");
      }
    }
    if (item.contains("namespaces")) {
      if (!item["namespaces"].is_array()) {
        return absl::InvalidArgumentError(where + ".namespaces: must be a list of strings");
      }
      for (const nlohmann::json& name : item["namespaces"]) {
        if (!name.is_string() || name.get<std::string>().empty()) {
          return absl::InvalidArgumentError(where +
                                            ".namespaces: must be a list of non-empty strings");
        }
        entry.namespaces.push_back(name);
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<Caller> Authorizer::Authenticate(std::string_view authorization) const {
  if (!enabled_) return Caller{"", {}, {}, /*unrestricted=*/true};
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "no token: send the header \"authorization: Bearer <token>\" (skald --token, "
        "$SKALD_TOKEN)");
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return absl::UnauthenticatedError("malformed authorization: expected \"Bearer <token>\"");
  }
  const std::array<uint8_t, 32> presented = Sha256(authorization.substr(kScheme.size()));
  // Compare with every entry, without stopping at a match: the time taken does not tell
  // which entry, or how much of a hash, matched.
  const TokenEntry* match = nullptr;
  for (const TokenEntry& entry : tokens_) {
    if (CRYPTO_memcmp(entry.sha256.data(), presented.data(), presented.size()) == 0) {
      match = &entry;
    }
  }
  if (!match) return absl::UnauthenticatedError("unknown token");
  return Caller{match->name, match->roles, match->namespaces, false};
}

absl::Status Authorizer::Authorize(const Caller& caller, Permission permission,
                                   std::string_view definition) {
  if (caller.unrestricted) return absl::OkStatus();
  auto has = [&caller](Role role) { return caller.roles.count(role) > 0; };
  bool allowed = false;
  std::string needs;
  switch (permission) {
    case Permission::kApplyDefinition:
    case Permission::kStartSaga:
      allowed = has(Role::kSubmitter) && Covers(caller.namespaces, definition);
      needs = "role submitter";
      break;
    case Permission::kRead:
      allowed =
          has(Role::kOperator) || (has(Role::kSubmitter) && Covers(caller.namespaces, definition));
      needs = "role operator, or submitter";
      break;
    case Permission::kOperate:
      allowed = has(Role::kOperator) && Covers(caller.namespaces, definition);
      needs = "role operator";
      break;
    case Permission::kComplete:
      allowed = has(Role::kParticipant) && Covers(caller.namespaces, definition);
      needs = "role participant";
      break;
    case Permission::kRegister:
      return has(Role::kParticipant)
                 ? absl::OkStatus()
                 : absl::PermissionDeniedError("caller \"" + caller.name +
                                               "\" (roles: " + Roles(caller) +
                                               ") may not register participants: needs role "
                                               "participant");
    case Permission::kListParticipants:
      return caller.roles.empty()
                 ? absl::PermissionDeniedError("caller \"" + caller.name + "\" has no role")
                 : absl::OkStatus();
  }
  if (allowed) return absl::OkStatus();
  const std::string scope = definition.empty() ? std::string("of every namespace")
                                               : "of namespace \"" + NamespaceOf(definition) + "\"";
  return absl::PermissionDeniedError("caller \"" + caller.name + "\" (roles: " + Roles(caller) +
                                     ") may not " + std::string(PermissionName(permission)) + " " +
                                     scope + ": needs " + needs + " with that namespace");
}

}  // namespace skald::api
