#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace skald::core {

// Parses `text` as JSON, refusing values with objects and arrays nested deeper than
// `max_depth`. Parsing is iterative, but copying, comparing and printing a value recurse: a
// value nested deep enough (200 KB of "[") would overflow the stack later. Errors are
// INVALID_ARGUMENT: "not valid JSON at byte N" or "objects and arrays nested deeper than N
// levels". Linear in the size of `text`.
absl::StatusOr<nlohmann::json> ParseBoundedJson(std::string_view text, size_t max_depth);

// Parses `text` into `out` in one pass, like nlohmann::json::parse (throwing its parse_error
// and out_of_range exceptions for what is not JSON), but stops and returns false at the
// first object or array nested deeper than `max_depth` (the value itself counting as 1),
// before building anything inside it; `out` is then null.
//
// Why not json::parse with a callback: its callback parser scans the whole parent container
// each time an object ends (to drop discarded values), so a 1 MiB `{"a":[{},{},...]}` took
// about a minute. This one builds the value with the library's plain DOM parser.
bool ParseJsonWithinDepth(std::string_view text, size_t max_depth, nlohmann::json& out);

// Returns the string value of the top-level member `key` of the JSON object `text` (the
// last one, as parsing keeps the last of repeated keys), read without building the value:
// memory does not grow with the document, only with the longest string in it. nullopt when
// `text` is not a JSON object, is not JSON, has no such string member, or nests objects
// and arrays deeper than `max_depth` (the reading stops there). Used to authorise a
// request by the name it carries before paying for a full parse.
std::optional<std::string> FindTopLevelString(std::string_view text, std::string_view key,
                                              size_t max_depth);

}  // namespace skald::core
