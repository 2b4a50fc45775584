#include "coordinator/observability/redaction.h"

#include <algorithm>
#include <cctype>
#include <memory>

namespace skald::observability {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Set once at startup, before the threads that log are started.
std::set<std::string>& ConfiguredFields() {
  static auto* fields = new std::set<std::string>(ParseFieldList(kDefaultRedactedFields));
  return *fields;
}

}  // namespace

std::set<std::string> ParseFieldList(std::string_view list) {
  std::set<std::string> fields;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(start, comma - start);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
      item.remove_prefix(1);
    }
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
      item.remove_suffix(1);
    }
    if (!item.empty()) fields.insert(Lower(std::string(item)));
    start = comma + 1;
  }
  return fields;
}

nlohmann::json Redact(const nlohmann::json& payload, const std::set<std::string>& fields) {
  if (payload.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : payload.items()) {
      out[key] = fields.count(Lower(key)) ? nlohmann::json(kRedacted) : Redact(value, fields);
    }
    return out;
  }
  if (payload.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const nlohmann::json& item : payload) out.push_back(Redact(item, fields));
    return out;
  }
  return payload;
}

void SetRedactedFields(std::set<std::string> fields) { ConfiguredFields() = std::move(fields); }

std::string RedactedPayload(std::string_view json_text) {
  nlohmann::json payload = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) {
    return "(not JSON, " + std::to_string(json_text.size()) + " bytes)";
  }
  return Redact(payload, ConfiguredFields())
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace skald::observability
