#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "nlohmann/json.hpp"

// The saga state machine: given a saga's state and something that happened, it decides the
// next state and what the shell must do. It performs no I/O and reads no clock; the shell
// commits the new state, then carries out the commands.
namespace skald::core {

// --- Events: what happened to a saga -------------------------------------------------------

// This coordinator has taken up the saga from its stored state: just created, or after a
// restart. Work that was in flight when the previous owner stopped is issued again, and
// whatever can start, starts.
struct SagaResumed {};

enum class AttemptOutcome {
  kSuccess,
  // Transient: the participant may succeed if asked again.
  kRetryableError,
  // Definite: the participant refused and had no effect; asking again will not help.
  kFailure,
  // The participant took the attempt on and will complete it later (StepCompleted, within
  // the step's completion_timeout and heartbeat_timeout). Only a participant's reply is
  // this; a completion is one of the three above.
  kAccepted,
};

// A participant answered an attempt (or the call failed without an answer).
struct AttemptFinished {
  int step = 0;
  Phase phase = Phase::kAction;
  int attempt = 0;
  AttemptOutcome outcome = AttemptOutcome::kSuccess;
  // For kSuccess of an action: a JSON object.
  nlohmann::json output;
  // For errors: "code: message", for people.
  std::string error;
  // The participant's machine-readable error code, if it gave one (matched against the
  // retry policy's non_retryable_errors).
  std::string error_code;
};

// The time a step waited for before its next attempt has come.
struct RetryDue {
  int step = 0;
  Phase phase = Phase::kAction;
};

// A deadline has come: the step's step_timeout, or (no step) the saga's timeout.
struct DeadlinePassed {
  std::optional<int> step;
};

// An accepted attempt's completion arrived (CompleteStep with its token), carrying the result
// the call would have returned: `result` is decided exactly like that reply. Refused (see
// CheckCompletion) unless it is for the attempt in progress.
struct StepCompleted {
  AttemptFinished result;
};

// A participant says an accepted attempt is still being worked on: its heartbeat deadline
// moves to now + heartbeat_timeout. `details`: a JSON object or null.
struct HeartbeatReceived {
  int step = 0;
  Phase phase = Phase::kAction;
  int attempt = 0;
  nlohmann::json details;
};

// The earlier deadline of an accepted attempt (completion or heartbeat) may have come.
struct WaitTimedOut {
  int step = 0;
  Phase phase = Phase::kAction;
  int attempt = 0;
};

// An operator's decision, recorded in the history with who and why:
//   kAbort  a RUNNING saga (pivot not started) stops going forward and compensates;
//   kRetry  a FAILED saga's failed compensations (or failed after-pivot steps) start again
//           with a fresh attempt budget;
//   kSkip   `step`'s compensation, failed or still being retried, counts as done (the
//           operator undid it by hand), or a failed after-pivot step counts as succeeded
//           (the operator completed it by hand); the saga goes on without it;
//   kResolve `step`'s waiting attempt ends with `resolution` (its step, phase and attempt
//           are taken from the state), as if its participant had completed it.
struct OperatorAction {
  enum class Kind { kAbort, kRetry, kSkip, kResolve };
  Kind kind = Kind::kAbort;
  std::optional<int> step;
  std::string operator_name;
  std::string reason;
  // For kResolve: the outcome, output, error and error code of the result.
  AttemptFinished resolution;
};

using Event = std::variant<SagaResumed, AttemptFinished, RetryDue, DeadlinePassed, OperatorAction,
                           StepCompleted, HeartbeatReceived, WaitTimedOut>;

// --- Commands: what the shell must do once the new state is committed ---------------------

// Send attempt `attempt` of the step's phase to its participant.
struct CallParticipant {
  int step = 0;
  Phase phase = Phase::kAction;
  int attempt = 0;
};

// Deliver RetryDue{step, phase} to the saga at `at`.
struct ScheduleRetry {
  int step = 0;
  Phase phase = Phase::kAction;
  TimePoint at;
};

// Deliver DeadlinePassed{step} to the saga at `at`.
struct ScheduleDeadline {
  std::optional<int> step;
  TimePoint at;
};

// Deliver WaitTimedOut{step, phase, attempt} to the saga at `at`.
struct ScheduleWaitTimeout {
  int step = 0;
  Phase phase = Phase::kAction;
  int attempt = 0;
  TimePoint at;
};

using Command = std::variant<CallParticipant, ScheduleRetry, ScheduleDeadline, ScheduleWaitTimeout>;

// One line of the saga's append-only history.
struct HistoryEntry {
  // e.g. "attempt_started", "step_failed", "saga_completed".
  std::string type;
  std::optional<int> step;
  std::optional<Phase> phase;
  int attempt = 0;
  // Extra facts: {"error": "..."}, {"retry_at_ms": ...}; never payloads.
  nlohmann::json detail = nlohmann::json::object();
};

struct Transition {
  SagaState state;
  std::vector<Command> commands;
  std::vector<HistoryEntry> history;
};

// Returns the saga's next state, the commands that carry it out and the history it adds.
// Events that no longer apply (a late reply for a superseded attempt, anything for a
// terminal saga) leave the state unchanged and produce nothing.
// REQUIRES: state.steps.size() == definition.steps.size().
Transition Decide(const SagaDefinition& definition, const SagaState& state, const Event& event,
                  TimePoint now);

// Returns OK when `action` applies to the saga as it is, otherwise FAILED_PRECONDITION
// saying why in words for the operator. Decide ignores an action this refuses.
absl::Status CheckOperatorAction(const SagaDefinition& definition, const SagaState& state,
                                 const OperatorAction& action);

// Returns OK when `completion` applies to the saga as it is at `now` (its attempt is in
// progress: waiting, or even still in flight); ALREADY_EXISTS when the very same result was
// recorded for that attempt (a repeat: nothing to do); otherwise FAILED_PRECONDITION saying
// why for the participant: another result was recorded, the token is of an earlier attempt,
// the attempt's deadline passed, the saga or step has moved on. INVALID_ARGUMENT for a
// completion whose outcome is kAccepted.
absl::Status CheckCompletion(const SagaDefinition& definition, const SagaState& state,
                             const StepCompleted& completion, TimePoint now);

// Returns OK when `heartbeat` applies: its attempt is waiting and neither deadline has
// passed; FAILED_PRECONDITION saying why otherwise.
absl::Status CheckHeartbeat(const SagaDefinition& definition, const SagaState& state,
                            const HeartbeatReceived& heartbeat, TimePoint now);

// The result of a completion as it is recorded and compared: {"outcome", "output",
// "error_code", "error"}.
nlohmann::json CompletionResultJson(const AttemptFinished& result);

// Returns why an event handed to the engine with a submitter waiting (an operator action,
// a completion, a heartbeat) was not applied: the Check* above; OK for other events.
absl::Status CheckSubmitted(const SagaDefinition& definition, const SagaState& state,
                            const Event& event, TimePoint now);

}  // namespace skald::core
