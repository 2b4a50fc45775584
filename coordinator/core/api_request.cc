#include "coordinator/core/api_request.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <initializer_list>

#include "coordinator/core/bounded_json.h"

namespace skald::core {
namespace {

// Checks that `query` holds only parameters named in `allowed`, each at most once.
absl::Status CheckParams(const QueryParams& query,
                         std::initializer_list<std::string_view> allowed) {
  for (auto it = query.begin(); it != query.end(); it = query.upper_bound(it->first)) {
    if (std::find(allowed.begin(), allowed.end(), it->first) == allowed.end()) {
      std::string expected;
      for (std::string_view name : allowed)
        expected += (expected.empty() ? "" : ", ") + std::string(name);
      return absl::InvalidArgumentError(
          "unknown query parameter \"" + it->first + "\"" +
          (expected.empty() ? "; this endpoint takes none" : "; expected " + expected));
    }
    if (query.count(it->first) > 1)
      return absl::InvalidArgumentError(it->first + ": given more than once");
  }
  return absl::OkStatus();
}

// Returns the parameter's value, or an empty string.
std::string Param(const QueryParams& query, const std::string& name) {
  auto it = query.find(name);
  return it == query.end() ? "" : it->second;
}

template <typename Integer>
absl::Status ParseInteger(const QueryParams& query, const std::string& name, Integer* out) {
  auto it = query.find(name);
  if (it == query.end()) return absl::OkStatus();
  const std::string& text = it->second;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (error != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(name + ": expected an integer, got \"" + text + "\"");
  }
  return absl::OkStatus();
}

constexpr std::array<std::string_view, 5> kSagaStates = {"RUNNING", "COMPENSATING", "COMPLETED",
                                                         "COMPENSATED", "FAILED"};

}  // namespace

absl::StatusOr<std::string> ParseSagaStateName(std::string_view text) {
  std::string name(text);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string_view short_name = name;
  if (short_name.starts_with("SAGA_STATE_")) short_name.remove_prefix(11);
  if (std::find(kSagaStates.begin(), kSagaStates.end(), short_name) == kSagaStates.end()) {
    return absl::InvalidArgumentError(
        "state: unknown value \"" + std::string(text) +
        "\"; expected RUNNING, COMPENSATING, COMPLETED, COMPENSATED or FAILED");
  }
  return "SAGA_STATE_" + std::string(short_name);
}

absl::StatusOr<ListSagasQuery> ParseListSagasQuery(const QueryParams& query) {
  if (absl::Status s = CheckParams(query, {"state", "definition", "created_after", "created_before",
                                           "page_size", "page_token"});
      !s.ok()) {
    return s;
  }
  ListSagasQuery parsed;
  if (const std::string state = Param(query, "state"); !state.empty()) {
    absl::StatusOr<std::string> name = ParseSagaStateName(state);
    if (!name.ok()) return name.status();
    parsed.state = *name;
  }
  parsed.definition = Param(query, "definition");
  parsed.created_after = Param(query, "created_after");
  parsed.created_before = Param(query, "created_before");
  parsed.page_token = Param(query, "page_token");
  if (absl::Status s = ParseInteger(query, "page_size", &parsed.page_size); !s.ok()) return s;
  return parsed;
}

absl::StatusOr<CountSagasQuery> ParseCountSagasQuery(const QueryParams& query) {
  if (absl::Status s = CheckParams(query, {"definition"}); !s.ok()) return s;
  return CountSagasQuery{Param(query, "definition")};
}

absl::StatusOr<SagaHistoryQuery> ParseSagaHistoryQuery(const QueryParams& query) {
  if (absl::Status s = CheckParams(query, {"after_event_id"}); !s.ok()) return s;
  SagaHistoryQuery parsed;
  if (absl::Status s = ParseInteger(query, "after_event_id", &parsed.after_event_id); !s.ok()) {
    return s;
  }
  return parsed;
}

absl::StatusOr<DefinitionQuery> ParseDefinitionQuery(const QueryParams& query) {
  if (absl::Status s = CheckParams(query, {"version"}); !s.ok()) return s;
  DefinitionQuery parsed;
  if (absl::Status s = ParseInteger(query, "version", &parsed.version); !s.ok()) return s;
  return parsed;
}

absl::StatusOr<ParticipantsQuery> ParseParticipantsQuery(const QueryParams& query) {
  if (absl::Status s = CheckParams(query, {"service", "page_size", "page_token"}); !s.ok()) {
    return s;
  }
  ParticipantsQuery parsed{Param(query, "service")};
  parsed.page_token = Param(query, "page_token");
  if (absl::Status s = ParseInteger(query, "page_size", &parsed.page_size); !s.ok()) return s;
  return parsed;
}

absl::Status CheckNoQueryParams(const QueryParams& query) { return CheckParams(query, {}); }

absl::Status CheckRequestBody(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return absl::OkStatus();
  absl::StatusOr<nlohmann::json> parsed = ParseBoundedJson(body, kMaxRequestBodyDepth);
  if (!parsed.ok())
    return absl::InvalidArgumentError("request body: " + std::string(parsed.status().message()));
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(std::string("request body: must be a JSON object, got ") +
                                      parsed->type_name());
  }
  return absl::OkStatus();
}

}  // namespace skald::core
