#include "common/input_fields.h"

#include <limits>

#include "absl/status/status.h"

namespace skald::examples {
namespace {

// Returns the field, or null with `*error` set when it is missing.
const nlohmann::json* Find(const nlohmann::json& input, std::string_view field,
                           absl::Status* error) {
  const auto found = input.find(std::string(field));
  if (found == input.end()) {
    *error = absl::InvalidArgumentError("field \"" + std::string(field) + "\" is missing");
    return nullptr;
  }
  return &*found;
}

absl::Status Mistyped(std::string_view field, std::string_view expected,
                      const nlohmann::json& value) {
  std::string got = value.dump();
  // Shortened in place: `got.substr(0, 57) + "..."` trips a false -Warray-bounds of GCC 12
  // in std::string's inlined copy once the precompiled header changes what gets inlined.
  if (got.size() > 60) got.replace(57, std::string::npos, "...");
  return absl::InvalidArgumentError("field \"" + std::string(field) + "\" must be " +
                                    std::string(expected) + ", got " + got);
}

}  // namespace

absl::StatusOr<std::string> NonEmptyStringField(const nlohmann::json& input,
                                                std::string_view field) {
  absl::Status error;
  const nlohmann::json* value = Find(input, field, &error);
  if (value == nullptr) return error;
  if (!value->is_string() || value->get_ref<const std::string&>().empty()) {
    return Mistyped(field, "a non-empty string", *value);
  }
  return value->get<std::string>();
}

absl::StatusOr<int> PositiveIntField(const nlohmann::json& input, std::string_view field) {
  absl::Status error;
  const nlohmann::json* value = Find(input, field, &error);
  if (value == nullptr) return error;
  if (value->is_number_unsigned()) {
    const auto n = value->get<std::uint64_t>();
    if (n >= 1 && n <= static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      return static_cast<int>(n);
    }
  } else if (value->is_number_integer()) {
    const auto n = value->get<std::int64_t>();
    if (n >= 1 && n <= std::numeric_limits<int>::max()) return static_cast<int>(n);
  }
  return Mistyped(field, "an integer >= 1", *value);
}

absl::StatusOr<PositiveNumber> PositiveNumberField(const nlohmann::json& input,
                                                   std::string_view field) {
  absl::Status error;
  const nlohmann::json* value = Find(input, field, &error);
  if (value == nullptr) return error;
  if (!value->is_number() || value->get<double>() <= 0) {
    return Mistyped(field, "a number > 0", *value);
  }
  return PositiveNumber{value->get<double>(), value->dump()};
}

}  // namespace skald::examples
