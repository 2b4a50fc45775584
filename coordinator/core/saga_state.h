#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"

namespace skald::core {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

enum class SagaStatus { kRunning, kCompensating, kCompleted, kCompensated, kFailed };

enum class StepStatus {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kCompensating,
  kCompensated,
  kCompensationFailed,
  // Its `when` condition was false: never run, never compensated.
  kSkipped,
};

// Which of a step's two operations an attempt runs.
enum class Phase { kAction, kCompensation };

// An attempt its participant accepted (OUTCOME_ACCEPTED) and will complete later: the step
// stays RUNNING (or COMPENSATING) for every rule of the state machine, and is shown as
// WAITING (COMPENSATION_WAITING). No call is in flight; a timer is armed for the earlier of
// the two deadlines.
struct WaitingStep {
  // When the acceptance was decided.
  TimePoint since;
  // No completion is taken after this: since + completion_timeout.
  TimePoint deadline;
  // With a heartbeat_timeout: the attempt fails unless a heartbeat comes before this.
  std::optional<TimePoint> heartbeat_deadline;
  std::optional<TimePoint> last_heartbeat;
  // The last heartbeat's details (a JSON object), null when none.
  nlohmann::json heartbeat_details;

  // The earlier of the two deadlines: when the attempt fails unless something comes.
  TimePoint due() const {
    return heartbeat_deadline && *heartbeat_deadline < deadline ? *heartbeat_deadline : deadline;
  }
  bool operator==(const WaitingStep&) const = default;
};

// How the step's last waiting attempt ended: what a completion arriving later, or again,
// is answered from (a repeat of the recorded result is a no-op, anything else is refused
// saying why).
struct ClosedWait {
  enum class How { kCompleted, kResolved, kDeadline, kHeartbeat, kEnded };
  Phase phase = Phase::kAction;
  int attempt = 0;
  How how = How::kEnded;
  // For kCompleted and kResolved: the result, as CompletionResultJson gives it.
  nlohmann::json result;
  TimePoint at;
  bool operator==(const ClosedWait&) const = default;
};

// Names as stored in PostgreSQL and shown to people: "RUNNING", "COMPENSATION_FAILED", ...
std::string_view ToString(SagaStatus status);
std::string_view ToString(StepStatus status);
// "action" or "compensation".
std::string_view ToString(Phase phase);
std::optional<SagaStatus> ParseSagaStatus(std::string_view text);
std::optional<StepStatus> ParseStepStatus(std::string_view text);

// COMPLETED, COMPENSATED and FAILED: nothing more happens without an operator.
bool IsTerminal(SagaStatus status);

struct StepState {
  StepStatus status = StepStatus::kPending;
  // Attempts made of the action and of the compensation; the one in flight included.
  int attempts = 0;
  int compensation_attempts = 0;
  // Set while the step waits to retry: when the next attempt is due. Unset while an
  // attempt is in flight (kRunning / kCompensating).
  std::optional<TimePoint> retry_at;
  // The action's output (a JSON object) once it succeeded; null before.
  nlohmann::json output;
  // The last error, for people: "card_declined: amount over limit".
  std::string error;
  // The action failed without a clear answer (its attempts ran out on timeouts or transient
  // errors), so it may have taken effect and is compensated like a succeeded step.
  bool outcome_unknown = false;
  // The input rendered from the step's template when its first attempt started; the
  // compensation receives the same. Null before.
  nlohmann::json input;
  // When the step's step_timeout passes, while its action is being tried.
  std::optional<TimePoint> deadline;
  // Set while the attempt in progress was accepted and waits for its completion.
  std::optional<WaitingStep> waiting;
  // How the last waiting attempt ended; unset before any did.
  std::optional<ClosedWait> closed_wait;

  bool operator==(const StepState&) const = default;
};

// Everything the state machine needs to decide a saga's next move.
struct SagaState {
  std::string id;
  SagaStatus status = SagaStatus::kRunning;
  nlohmann::json input = nlohmann::json::object();
  // One entry per step of the definition, in the definition's order.
  std::vector<StepState> steps;
  // Why the saga is compensating or failed; empty otherwise.
  std::string error;
  // The rendered output template, once COMPLETED; null before.
  nlohmann::json output;
  // When the saga's timeout passes; set when it is first taken up.
  std::optional<TimePoint> deadline;

  bool operator==(const SagaState&) const = default;
};

// Returns the name a step's state is shown under: ToString(status), except "WAITING" and
// "COMPENSATION_WAITING" for an accepted attempt waiting for its completion.
std::string_view ShownStatus(const StepState& step);

// The waiting state as stored (saga_steps.wait, times as epoch milliseconds), and back;
// null for none. A malformed stored value reads as none.
nlohmann::json WaitingToJson(const std::optional<WaitingStep>& waiting);
std::optional<WaitingStep> WaitingFromJson(const nlohmann::json& stored);
nlohmann::json ClosedWaitToJson(const std::optional<ClosedWait>& closed);
std::optional<ClosedWait> ClosedWaitFromJson(const nlohmann::json& stored);

// Returns the state of a saga that has just been created for a definition of `step_count`
// steps: RUNNING, every step PENDING.
SagaState NewSagaState(std::string id, nlohmann::json input, size_t step_count);

// Returns the key every attempt of one step phase carries, so that participants can apply
// its effect once: "<saga id>/<step>/<phase>".
std::string IdempotencyKey(std::string_view saga_id, std::string_view step, Phase phase);

}  // namespace skald::core
