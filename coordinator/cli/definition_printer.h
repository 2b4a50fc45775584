#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "coordinator/core/definition.h"
#include "coordinator/core/simulation.h"
#include "nlohmann/json.hpp"

// What `skald definition show` and `skald definition simulate` print: pure formatting.
namespace skald::cli {

// Returns the condition as people read it: "${input}/amount > 0", "${input}/vip == true",
// "${input}/coupon exists", "${input}/coupon is missing".
std::string DescribeCondition(const core::Condition& condition);

// Writes one line per step under a header: STEP, AFTER (names, or "-"), PARTICIPANT,
// ACTION, COMPENSATION ("-" for none) and FLAGS (pivot, when, after-pivot; "-" for none).
void PrintStepTable(const core::SagaDefinition& definition, std::ostream& out);

// Returns a scenario's heading: "happy path", "charge-payment fails", ...
std::string ScenarioTitle(const core::SagaDefinition& definition,
                          const core::ScenarioResult& scenario);

// Returns what `skald definition simulate --json` prints:
// {"definition", "version", "scenarios": [{"scenario" (see core::ToString(ScenarioKind)),
//   "step" (name or null), "title", "actions" and "compensations" (arrays of waves, each
//   an array of step names), "forward_recovery", "state", "error", "steps" ([{"name",
//   "state"}], in definition order), "notes"}]}.
nlohmann::json SimulationToJson(const core::SagaDefinition& definition,
                                const std::vector<core::ScenarioResult>& scenarios);

// Writes the scenarios as readable text: per scenario its title, the numbered waves of
// actions and compensations (concurrent steps on one line, marked), whether forward
// recovery took over, the final saga state with its error, the steps' final states and
// the notes.
void PrintSimulation(const core::SagaDefinition& definition,
                     const std::vector<core::ScenarioResult>& scenarios, std::ostream& out);

}  // namespace skald::cli
