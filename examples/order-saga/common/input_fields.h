// Typed access to the fields of a step's JSON input, with errors that name the field.

#ifndef SKALD_EXAMPLES_ORDER_SAGA_COMMON_INPUT_FIELDS_H_
#define SKALD_EXAMPLES_ORDER_SAGA_COMMON_INPUT_FIELDS_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace skald::examples {

// Returns input[field] when it is a non-empty string; InvalidArgument naming the field
// otherwise.
absl::StatusOr<std::string> NonEmptyStringField(const nlohmann::json& input,
                                                std::string_view field);

// Returns input[field] when it is an integer in [1, 2^31 - 1]; InvalidArgument naming the
// field otherwise (2.0 is not an integer here).
absl::StatusOr<int> PositiveIntField(const nlohmann::json& input, std::string_view field);

// A positive JSON number, with its decimal text exactly as it appeared (for NUMERIC
// columns, where the double would add binary noise).
struct PositiveNumber {
  double value;
  std::string text;
};

// Returns input[field] when it is a number > 0; InvalidArgument naming the field otherwise.
absl::StatusOr<PositiveNumber> PositiveNumberField(const nlohmann::json& input,
                                                   std::string_view field);

}  // namespace skald::examples

#endif  // SKALD_EXAMPLES_ORDER_SAGA_COMMON_INPUT_FIELDS_H_
