#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/core/definition.h"
#include "coordinator/core/definition_limits.h"

namespace skald::core {

// Returns the definition described by `json_text` (format: docs/definitions.md), or
// INVALID_ARGUMENT whose message lists every problem found, one per line, each naming its
// place as a JSON path: `definition: steps[1].action: required string field is missing`.
absl::StatusOr<SagaDefinition> ParseDefinition(std::string_view json_text,
                                               const DefinitionLimits& limits = {});

// Returns OK when `name` may name a definition or a step: 1 to max_length characters of
// [A-Za-z0-9._-], starting with a letter or digit.
absl::Status ValidateName(std::string_view name, size_t max_length);

// Returns the candidate closest to `name` if it is a plausible misspelling of it (a small
// edit distance), or an empty string.
std::string ClosestName(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace skald::core
