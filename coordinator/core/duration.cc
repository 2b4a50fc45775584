#include "coordinator/core/duration.h"

#include <charconv>

#include "absl/status/status.h"

namespace skald::core {
namespace {

constexpr std::chrono::milliseconds kLongest = std::chrono::hours(24 * 30);

struct Unit {
  std::string_view suffix;
  std::chrono::milliseconds size;
};

// "ms" is listed before "m" and "s" so that the longest suffix wins.
constexpr Unit kUnits[] = {
    {"ms", std::chrono::milliseconds(1)},
    {"s", std::chrono::seconds(1)},
    {"m", std::chrono::minutes(1)},
    {"h", std::chrono::hours(1)},
};

}  // namespace

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        std::string("invalid duration \"") + std::string(text) + "\": " + std::string(why) +
        " (expected a whole number with a unit: ms, s, m or h, e.g. \"250ms\" or \"30s\")");
  };
  for (const Unit& unit : kUnits) {
    if (text.size() <= unit.suffix.size() || !text.ends_with(unit.suffix)) continue;
    std::string_view digits = text.substr(0, text.size() - unit.suffix.size());
    long long value = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size()) {
      return invalid("not a whole number before the unit");
    }
    if (value < 0) return invalid("negative");
    if (value > kLongest / unit.size) return invalid("longer than 30 days");
    return unit.size * value;
  }
  return invalid("missing or unknown unit");
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    if (duration.count() != 0 && duration % it->size == std::chrono::milliseconds(0)) {
      return std::to_string(duration / it->size) + std::string(it->suffix);
    }
  }
  return std::to_string(duration.count()) + "ms";
}

}  // namespace skald::core
