#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace skald::core {

// Returns the duration written as a decimal integer followed by a unit: "ms", "s", "m" or
// "h" (e.g. "250ms", "30s", "5m"). Fails with INVALID_ARGUMENT on anything else, including
// negative values and values over 30 days.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Returns the shortest text ParseDuration reads back as `duration`.
std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace skald::core
