#include "coordinator/cli/history_printer.h"

#include <iomanip>
#include <string>

namespace skald::cli {
namespace {

using nlohmann::json;

json Detail(const v1::SagaEvent& event) {
  json detail = json::parse(event.detail_json(), nullptr, /*allow_exceptions=*/false);
  return detail.is_object() ? detail : json::object();
}

// {"error": "x", "retryable": true} -> error="x" retryable=true
std::string DetailText(const json& detail) {
  std::string text;
  for (const auto& [key, value] : detail.items()) {
    if (!text.empty()) text += ' ';
    text += key + "=" + value.dump();
  }
  return text;
}

}  // namespace

json EventToJson(const v1::SagaEvent& event) {
  json entry = {{"id", event.id()},
                {"at", event.at()},
                {"type", event.type()},
                {"attempt", event.attempt()},
                {"detail", Detail(event)}};
  if (!event.step().empty()) entry["step"] = event.step();
  if (!event.phase().empty()) entry["phase"] = event.phase();
  return entry;
}

void PrintHistoryHeader(std::ostream& out) {
  out << std::left << std::setw(26) << "AT" << std::setw(22) << "EVENT" << std::setw(18) << "STEP"
      << std::setw(14) << "PHASE" << std::setw(9) << "ATTEMPT"
      << "DETAIL\n";
}

void PrintHistoryRow(const v1::SagaEvent& event, std::ostream& out) {
  out << std::left << std::setw(26) << event.at() << std::setw(22) << event.type() << std::setw(18)
      << (event.step().empty() ? "-" : event.step()) << std::setw(14)
      << (event.phase().empty() ? "-" : event.phase()) << std::setw(9)
      << (event.attempt() == 0 ? "-" : std::to_string(event.attempt())) << DetailText(Detail(event))
      << "\n";
}

}  // namespace skald::cli
