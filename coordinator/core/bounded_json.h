#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace skald::core {

// Parses `text` as JSON, refusing values with objects and arrays nested deeper than
// `max_depth`. Parsing is iterative, but copying, comparing and printing a value recurse: a
// value nested deep enough (200 KB of "[") would overflow the stack later. Errors are
// INVALID_ARGUMENT: "not valid JSON at byte N" or "objects and arrays nested deeper than N
// levels".
absl::StatusOr<nlohmann::json> ParseBoundedJson(std::string_view text, size_t max_depth);

}  // namespace skald::core
