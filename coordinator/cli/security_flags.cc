#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "coordinator/api/authorizer.h"
#include "coordinator/cli/serve_command.h"
#include "coordinator/observability/redaction.h"

namespace skald::cli {

absl::Status ApplySecurityFlags(const SecurityFlags& flags, server::ServerOptions& options) {
  observability::SetRedactedFields(observability::ParseFieldList(flags.redact_fields));
  if (flags.auth_tokens.empty()) return absl::OkStatus();
  std::ifstream in(flags.auth_tokens);
  if (!in) return absl::InvalidArgumentError("--auth-tokens: cannot read " + flags.auth_tokens);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<api::TokenEntry>> tokens = api::ParseTokensFile(text.str());
  if (!tokens.ok()) {
    return absl::InvalidArgumentError("--auth-tokens: " + flags.auth_tokens + ": " +
                                      std::string(tokens.status().message()));
  }
  // Names only: the file holds hashes, and this line must not help anyone guess a token.
  std::string names;
  for (const api::TokenEntry& token : *tokens) names += (names.empty() ? "" : ", ") + token.name;
  spdlog::info("authentication on: {} tokens ({})", tokens->size(), names);
  options.auth_tokens = std::move(*tokens);
  return absl::OkStatus();
}

}  // namespace skald::cli
