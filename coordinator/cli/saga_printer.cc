#include "coordinator/cli/saga_printer.h"

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
