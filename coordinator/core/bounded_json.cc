#include "coordinator/core/bounded_json.h"

#include <string>

namespace skald::core {

absl::StatusOr<nlohmann::json> ParseBoundedJson(std::string_view text, size_t max_depth) {
  bool too_deep = false;
  // `depth` counts the containers already open around the one starting.
  auto check_depth = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if (event == nlohmann::json::parse_event_t::object_start ||
        event == nlohmann::json::parse_event_t::array_start) {
      if (static_cast<size_t>(depth) >= max_depth) too_deep = true;
    }
    return !too_deep;
  };
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text, check_depth);
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError("not valid JSON at byte " + std::to_string(e.byte));
  } catch (const nlohmann::json::exception& e) {
    // E.g. a number too large for any type (out_of_range 406): refused, never thrown on.
    return absl::InvalidArgumentError(e.what());
  }
  if (too_deep) {
    return absl::InvalidArgumentError("objects and arrays nested deeper than " +
                                      std::to_string(max_depth) + " levels");
  }
  return value;
}

}  // namespace skald::core
