#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"

// "What if?" answers for a definition, found by driving the real state machine (Decide) with
// made-up participant replies and deadlines, so that they cannot drift from what the engine
// does. Pure: no I/O, no clock.
namespace skald::core {

// What a scenario makes happen.
enum class ScenarioKind {
  // Every participant succeeds and every `when` holds.
  kHappyPath,
  // One step's `when` does not hold (the others do).
  kConditionFalse,
  // One step's action answers its first attempt with a business failure.
  kStepFails,
  // One step's step_timeout passes while its first attempt is in flight.
  kStepTimeout,
  // The saga's timeout passes.
  kSagaTimeout,
  // One step's participant accepts every attempt of its action (OUTCOME_ACCEPTED) and never
  // completes it: each attempt's completion_timeout (or heartbeat_timeout) passes.
  kCompletionTimeout,
};

// "happy_path", "condition_false", "step_fails", "step_timeout", "saga_timeout",
// "completion_timeout".
std::string_view ToString(ScenarioKind kind);

// The participant calls the engine issued in one round: they are in flight together. Step
// indices, in the order the engine issued them.
using Wave = std::vector<int>;

// How one scenario played out.
struct ScenarioResult {
  ScenarioKind kind = ScenarioKind::kHappyPath;
  // The step the scenario is about; unset for kHappyPath and kSagaTimeout.
  std::optional<int> step;
  // Actions started, round by round (empty rounds left out). A step whose action failed or
  // timed out is listed too: it was called.
  std::vector<Wave> actions;
  // Compensations started, round by round; a wave's compensations run concurrently.
  std::vector<Wave> compensations;
  // The pivot had succeeded when the scenario's failure came, so the saga went forward
  // only and compensated nothing before it.
  bool forward_recovery = false;
  // The saga as the last decision left it: status, error and every step's state.
  SagaState final_state;
  // How the scenario was staged, and anything that kept it from happening as named, e.g.
  // "the saga deadline passes while round 3 is in flight".
  std::vector<std::string> notes;
};

// Returns, for `definition`, in this order: the happy path; for each step with a `when`
// (in definition order), that condition being false; for each step, its action failing
// for good; for each step with a step_timeout, that timeout passing; when the definition
// has a timeout, the saga timeout passing; and for each step that sets a heartbeat_timeout
// or a completion_timeout (a step whose participant may accept and complete later), its
// attempts accepted and never completed.
//
// How the replies are staged: all calls issued in one round are answered (in the order
// they were issued) before the next round's calls go out, and time stands still except
// when a deadline is made to pass. The saga input and each step's output are made up so
// that every reference resolves and every `when` holds (but the one a kConditionFalse
// scenario negates); compensations always succeed. A step timeout passes in the round its
// action was first called, before that round's replies (which then arrive late). The saga
// timeout passes before the replies of the last round of the happy path at which it still
// changes the outcome.
std::vector<ScenarioResult> Simulate(const SagaDefinition& definition);

}  // namespace skald::core
