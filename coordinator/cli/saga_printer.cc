#include "coordinator/cli/saga_printer.h"

#include <chrono>
#include <ctime>
#include <iomanip>

namespace skald::cli {
namespace {

using nlohmann::json;

json ParseOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// Strips the enum's prefix: SAGA_STATE_COMPLETED -> COMPLETED.
std::string WithoutPrefix(const std::string& name, std::string_view prefix) {
  return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}

// Returns how long ago an RFC 3339 UTC time ("2026-12-07T11:37:17.123Z") was, as "12s",
// "5m 3s", "2h 10m" or "3d 4h"; "" when it does not read.
std::string AgeOf(const std::string& rfc3339) {
  std::tm utc{};
  const char* end = strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &utc);
  if (!end) return "";
  const auto then = std::chrono::system_clock::from_time_t(timegm(&utc));
  const long long seconds = std::max<long long>(
      0, std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - then)
             .count());
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600)
    return std::to_string(seconds / 60) + "m " + std::to_string(seconds % 60) + "s";
  if (seconds < 86400) {
    return std::to_string(seconds / 3600) + "h " + std::to_string(seconds % 3600 / 60) + "m";
  }
  return std::to_string(seconds / 86400) + "d " + std::to_string(seconds % 86400 / 3600) + "h";
}

json WaitingToJson(const v1::WaitingStep& waiting) {
  json out = {{"since", waiting.since()}, {"deadline", waiting.deadline()}};
  if (!waiting.last_heartbeat_at().empty()) out["last_heartbeat_at"] = waiting.last_heartbeat_at();
  if (!waiting.heartbeat_deadline().empty()) {
    out["heartbeat_deadline"] = waiting.heartbeat_deadline();
  }
  if (!waiting.heartbeat_details_json().empty()) {
    out["heartbeat_details"] = ParseOrNull(waiting.heartbeat_details_json());
  }
  return out;
}

}  // namespace

std::string StateName(v1::SagaState state) {
  return WithoutPrefix(v1::SagaState_Name(state), "SAGA_STATE_");
}

std::string StateName(v1::StepState state) {
  return WithoutPrefix(v1::StepState_Name(state), "STEP_STATE_");
}

json SagaToJson(const v1::Saga& saga) {
  json steps = json::array();
  for (const v1::Step& step : saga.steps()) {
    steps.push_back(
        {{"name", step.name()},
         {"state", StateName(step.state())},
         {"attempts", step.attempts()},
         {"compensation_attempts", step.compensation_attempts()},
         {"input", ParseOrNull(step.input_is_saga_input() ? saga.input_json() : step.input_json())},
         {"output", ParseOrNull(step.output_json())},
         {"error", step.error()}});
    if (step.has_waiting()) steps.back()["waiting"] = WaitingToJson(step.waiting());
  }
  json out = {{"id", saga.id()},
              {"definition", saga.definition()},
              {"version", saga.definition_version()},
              {"state", StateName(saga.state())},
              {"error", saga.error()},
              {"input", ParseOrNull(saga.input_json())},
              {"output", ParseOrNull(saga.output_json())},
              {"created_at", saga.created_at()},
              {"updated_at", saga.updated_at()},
              {"steps", steps}};
  // GetSaga fills it in; listings do not.
  if (!saga.traceparent().empty()) out["traceparent"] = saga.traceparent();
  return out;
}

void PrintSaga(const v1::Saga& saga, std::ostream& out) {
  out << "saga        " << saga.id() << "\n"
      << "definition  " << saga.definition() << " v" << saga.definition_version() << "\n"
      << "state       " << StateName(saga.state()) << "\n";
  if (!saga.error().empty()) out << "error       " << saga.error() << "\n";
  if (!saga.output_json().empty()) out << "output      " << saga.output_json() << "\n";
  out << "created     " << saga.created_at() << "\n"
      << "updated     " << saga.updated_at() << "\n";
  if (!saga.traceparent().empty()) out << "trace       " << saga.traceparent() << "\n";
  out << "\n";
  out << std::left << std::setw(22) << "STEP" << std::setw(21) << "STATE" << std::setw(10)
      << "ATTEMPTS" << std::setw(10) << "COMP."
      << "ERROR\n";
  for (const v1::Step& step : saga.steps()) {
    out << std::left << std::setw(22) << step.name() << std::setw(21) << StateName(step.state())
        << std::setw(10) << step.attempts() << std::setw(10) << step.compensation_attempts()
        << step.error() << "\n";
  }
  // Steps accepted by their participant: how long they have waited and until when.
  for (const v1::Step& step : saga.steps()) {
    if (!step.has_waiting()) continue;
    const v1::WaitingStep& waiting = step.waiting();
    out << "\n"
        << step.name() << " waits for its completion since " << waiting.since() << " ("
        << AgeOf(waiting.since()) << "), deadline " << waiting.deadline() << "\n";
    if (!waiting.last_heartbeat_at().empty()) {
      out << "  last heartbeat " << waiting.last_heartbeat_at() << " ("
          << AgeOf(waiting.last_heartbeat_at()) << " ago)";
      if (!waiting.heartbeat_details_json().empty()) {
        out << ": " << waiting.heartbeat_details_json();
      }
      out << "\n";
    }
    if (!waiting.heartbeat_deadline().empty()) {
      out << "  next heartbeat due by " << waiting.heartbeat_deadline() << "\n";
    }
  }
}

void PrintSagaList(const v1::ListSagasResponse& page, std::ostream& out) {
  out << std::left << std::setw(38) << "ID" << std::setw(20) << "DEFINITION" << std::setw(14)
      << "STATE"
      << "CREATED\n";
  for (const v1::Saga& saga : page.sagas()) {
    out << std::left << std::setw(38) << saga.id() << std::setw(20)
        << (saga.definition() + " v" + std::to_string(saga.definition_version())) << std::setw(14)
        << StateName(saga.state()) << saga.created_at() << "\n";
  }
}

}  // namespace skald::cli
