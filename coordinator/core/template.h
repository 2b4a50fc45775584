#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "nlohmann/json.hpp"

// Data flow between steps: references into the saga input and step outputs, templates made
// of them, and `when` conditions over them. Syntax: docs/definitions.md, "Data flow".
namespace skald::core {

// A parsed reference: "${input}/a/b" or "${steps.NAME.output}/a/b".
struct Reference {
  // Empty for the saga input; the step's name otherwise.
  std::string step;
  // A JSON Pointer into the referenced document ("" for all of it).
  nlohmann::json::json_pointer pointer;
};

// What a template string is: a reference, a literal, or neither (malformed).
// Returns nullopt for a literal (including "$${..." escapes), a Reference for a valid
// reference, and INVALID_ARGUMENT naming the problem for a string that starts with "${"
// but is not a valid reference.
absl::StatusOr<std::optional<Reference>> ParseReference(std::string_view text);

// Calls `visit(path, reference)` for every reference in `template_json`, where path is the
// JSON path of the string inside the template (e.g. "/order/id" as "order.id"), and returns
// the first error a malformed reference produced, prefixed with its path.
absl::Status ForEachReference(
    const nlohmann::json& template_json, const std::string& path,
    const std::function<absl::Status(const std::string& path, const Reference&)>& visit);

// The documents references resolve against.
struct TemplateData {
  const SagaDefinition& definition;
  const SagaState& state;
};

// Returns the value `reference` points to, or nullopt when it does not exist (a missing
// member, or a step that has no output).
std::optional<nlohmann::json> Resolve(const Reference& reference, const TemplateData& data);

// Returns `template_json` with every reference replaced by its value. An unresolvable
// reference is an error (FAILED_PRECONDITION naming it) unless `missing_as_null`.
absl::StatusOr<nlohmann::json> Render(const nlohmann::json& template_json, const TemplateData& data,
                                      bool missing_as_null = false);

// Returns whether `condition` holds (see docs/definitions.md, "Conditions").
bool Evaluate(const Condition& condition, const TemplateData& data);

}  // namespace skald::core
