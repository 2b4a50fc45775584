#include "coordinator/cli/definition_printer.h"

#include <algorithm>
#include <array>
#include <iomanip>

#include "coordinator/core/duration.h"

namespace skald::cli {
namespace {

using nlohmann::json;

constexpr int kLabelWidth = 18;

std::string Join(const std::vector<std::string>& words, std::string_view separator) {
  std::string joined;
  for (const std::string& word : words) {
    if (!joined.empty()) joined += separator;
    joined += word;
  }
  return joined;
}

std::vector<std::string> Names(const core::SagaDefinition& definition,
                               const std::vector<int>& steps) {
  std::vector<std::string> names;
  for (int step : steps) names.push_back(definition.steps[step].name);
  return names;
}

std::string Flags(const core::StepDefinition& step) {
  std::vector<std::string> flags;
  if (step.pivot) flags.push_back("pivot");
  if (step.when) flags.push_back("when");
  if (step.after_pivot) flags.push_back("after-pivot");
  return flags.empty() ? "-" : Join(flags, ",");
}

void Label(std::ostream& out, std::string_view label) {
  out << "  " << std::left << std::setw(kLabelWidth) << label;
}

void PrintWaves(const core::SagaDefinition& definition, std::string_view label,
                const std::vector<core::Wave>& waves, std::ostream& out) {
  Label(out, label);
  if (waves.empty()) {
    out << "none\n";
    return;
  }
  const int number_width = static_cast<int>(std::to_string(waves.size()).size());
  for (size_t i = 0; i < waves.size(); ++i) {
    if (i > 0) Label(out, "");
    out << std::right << std::setw(number_width) << i + 1 << ". "
        << Join(Names(definition, waves[i]), " | ") << (waves[i].size() > 1 ? "  (concurrent)" : "")
        << "\n";
  }
}

std::string FinalState(const core::SagaState& state) {
  std::string text(core::ToString(state.status));
  if (!state.error.empty()) text += ": " + state.error;
  return text;
}

}  // namespace

std::string DescribeCondition(const core::Condition& condition) {
  const std::string operand = condition.operand.dump();
  switch (condition.op) {
    case core::Condition::Op::kEquals:
      return condition.value + " == " + operand;
    case core::Condition::Op::kNotEquals:
      return condition.value + " != " + operand;
    case core::Condition::Op::kExists:
      return condition.value + (condition.operand == true ? " exists" : " is missing");
    case core::Condition::Op::kGt:
      return condition.value + " > " + operand;
    case core::Condition::Op::kGte:
      return condition.value + " >= " + operand;
    case core::Condition::Op::kLt:
      return condition.value + " < " + operand;
    case core::Condition::Op::kLte:
      return condition.value + " <= " + operand;
  }
  return condition.value;
}

void PrintStepTable(const core::SagaDefinition& definition, std::ostream& out) {
  using Row = std::array<std::string, 6>;
  std::vector<Row> rows = {{"STEP", "AFTER", "SENT TO", "ACTION", "COMPENSATION", "FLAGS"}};
  for (const core::StepDefinition& step : definition.steps) {
    const std::vector<std::string> after = Names(definition, step.after);
    const std::string target = step.service.empty() ? step.participant : "service " + step.service;
    rows.push_back({step.name, after.empty() ? "-" : Join(after, ","), target, step.action,
                    step.has_compensation() ? step.compensation : "-", Flags(step)});
  }
  std::array<size_t, 6> widths{};
  for (const Row& row : rows) {
    for (size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size() + 2);
    }
  }
  for (const Row& row : rows) {
    for (size_t column = 0; column + 1 < row.size(); ++column) {
      out << std::left << std::setw(static_cast<int>(widths[column])) << row[column];
    }
    out << row.back() << "\n";
  }
}

std::string ScenarioTitle(const core::SagaDefinition& definition,
                          const core::ScenarioResult& scenario) {
  const std::string step = scenario.step ? definition.steps[*scenario.step].name : "";
  switch (scenario.kind) {
    case core::ScenarioKind::kHappyPath:
      return "happy path (every participant succeeds, every `when` holds)";
    case core::ScenarioKind::kConditionFalse:
      return step + " is skipped (its `when` " +
             DescribeCondition(*definition.steps[*scenario.step].when) + " does not hold)";
    case core::ScenarioKind::kStepFails:
      return step + " fails (a business failure on its first attempt)";
    case core::ScenarioKind::kStepTimeout:
      return step + "'s step_timeout (" +
             core::FormatDuration(*definition.steps[*scenario.step].step_timeout) + ") passes";
    case core::ScenarioKind::kSagaTimeout:
      return "the saga timeout (" + core::FormatDuration(*definition.timeout) + ") passes";
    case core::ScenarioKind::kCompletionTimeout:
      return step + " is accepted by its participant and never completed (completion_timeout " +
             core::FormatDuration(definition.steps[*scenario.step].completion_timeout) + ")";
  }
  return std::string(core::ToString(scenario.kind));
}

json SimulationToJson(const core::SagaDefinition& definition,
                      const std::vector<core::ScenarioResult>& scenarios) {
  auto waves_json = [&definition](const std::vector<core::Wave>& waves) {
    json array = json::array();
    for (const core::Wave& wave : waves) array.push_back(Names(definition, wave));
    return array;
  };
  json list = json::array();
  for (const core::ScenarioResult& scenario : scenarios) {
    json steps = json::array();
    for (size_t i = 0; i < definition.steps.size(); ++i) {
      steps.push_back(
          {{"name", definition.steps[i].name},
           {"state", std::string(core::ToString(scenario.final_state.steps[i].status))}});
    }
    list.push_back(
        {{"scenario", std::string(core::ToString(scenario.kind))},
         {"step", scenario.step ? json(definition.steps[*scenario.step].name) : json(nullptr)},
         {"title", ScenarioTitle(definition, scenario)},
         {"actions", waves_json(scenario.actions)},
         {"compensations", waves_json(scenario.compensations)},
         {"forward_recovery", scenario.forward_recovery},
         {"state", std::string(core::ToString(scenario.final_state.status))},
         {"error", scenario.final_state.error},
         {"steps", steps},
         {"notes", scenario.notes}});
  }
  return {{"definition", definition.name}, {"version", definition.version}, {"scenarios", list}};
}

void PrintSimulation(const core::SagaDefinition& definition,
                     const std::vector<core::ScenarioResult>& scenarios, std::ostream& out) {
  out << "definition " << definition.name << " v" << definition.version << ": " << scenarios.size()
      << " scenarios, played on the coordinator's state machine with "
      << "made-up replies\n";
  for (const core::ScenarioResult& scenario : scenarios) {
    out << "\n" << ScenarioTitle(definition, scenario) << "\n";
    PrintWaves(definition, "actions", scenario.actions, out);
    PrintWaves(definition, "compensations", scenario.compensations, out);
    if (scenario.forward_recovery) {
      Label(out, "forward recovery");
      out << "yes: the pivot had succeeded, so the saga only goes forward\n";
    }
    Label(out, "final state");
    out << FinalState(scenario.final_state) << "\n";
    std::vector<std::string> steps;
    for (size_t i = 0; i < definition.steps.size(); ++i) {
      steps.push_back(definition.steps[i].name + " " +
                      std::string(core::ToString(scenario.final_state.steps[i].status)));
    }
    Label(out, "steps");
    out << Join(steps, ", ") << "\n";
    for (const std::string& note : scenario.notes) {
      Label(out, "note");
      out << note << "\n";
    }
  }
}

}  // namespace skald::cli
