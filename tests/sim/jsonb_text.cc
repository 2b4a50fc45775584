#include "tests/sim/jsonb_text.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace skald::sim {
namespace {

using nlohmann::json;

void Append(const json& value, std::string& out) {
  if (value.is_object()) {
    std::vector<std::pair<const std::string*, const json*>> items;
    for (const auto& [key, item] : value.get_ref<const json::object_t&>()) {
      items.emplace_back(&key, &item);
    }
    // jsonb's own order: shorter keys first, then bytewise.
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
      if (a.first->size() != b.first->size()) return a.first->size() < b.first->size();
      return *a.first < *b.first;
    });
    out += '{';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += ", ";
      out += json(*items[i].first).dump(-1, ' ', false, json::error_handler_t::replace);
      out += ": ";
      Append(*items[i].second, out);
    }
    out += '}';
    return;
  }
  if (value.is_array()) {
    out += '[';
    for (size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out += ", ";
      Append(value[i], out);
    }
    out += ']';
    return;
  }
  out += value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string JsonbText(const json& value) {
  std::string out;
  Append(value, out);
  return out;
}

}  // namespace skald::sim
