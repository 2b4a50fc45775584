#include "coordinator/core/state_machine.h"

#include <algorithm>
#include <chrono>

#include "coordinator/core/duration.h"
#include "coordinator/core/retry_policy.h"
#include "coordinator/core/template.h"

namespace skald::core {
namespace {

std::string OutcomeName(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::kSuccess:
      return "success";
    case AttemptOutcome::kRetryableError:
      return "retryable_error";
    case AttemptOutcome::kFailure:
      return "failure";
    case AttemptOutcome::kAccepted:
      return "accepted";
  }
  return "unknown";
}

// True when attempt `attempt` of the step's phase is the one in progress (in flight or
// waiting), not waiting to retry.
bool InProgress(const SagaState& state, int index, Phase phase, int attempt) {
  if (index < 0 || index >= static_cast<int>(state.steps.size())) return false;
  const StepState& s = state.steps[index];
  if (s.retry_at) return false;
  if (phase == Phase::kAction) return s.status == StepStatus::kRunning && s.attempts == attempt;
  return s.status == StepStatus::kCompensating && s.compensation_attempts == attempt;
}

// "attempt 2 of step pay (action)", for messages.
std::string AttemptName(const SagaDefinition& definition, int index, Phase phase, int attempt) {
  return "attempt " + std::to_string(attempt) + " of step " + definition.steps[index].name + " (" +
         std::string(ToString(phase)) + ")";
}

// Applies one event to a copy of the saga's state, collecting commands and history.
class Decider {
 public:
  Decider(const SagaDefinition& definition, const SagaState& state, TimePoint now)
      : definition_(definition), now_(now) {
    out_.state = state;
  }

  Transition Run(const Event& event) {
    // Only an operator may move a saga that has ended (a FAILED one).
    if (!IsTerminal(saga().status) || std::holds_alternative<OperatorAction>(event)) {
      std::visit([this](const auto& e) { On(e); }, event);
    }
    return std::move(out_);
  }

 private:
  SagaState& saga() { return out_.state; }
  StepState& step(int index) { return saga().steps[index]; }
  const StepDefinition& step_def(int index) const { return definition_.steps[index]; }
  int step_count() const { return static_cast<int>(definition_.steps.size()); }

  void On(const SagaResumed&) {
    if (definition_.timeout && !saga().deadline) saga().deadline = now_ + *definition_.timeout;
    if (saga().deadline && saga().status == SagaStatus::kRunning) {
      Emit(ScheduleDeadline{std::nullopt, *saga().deadline});
    }
    for (int i = 0; i < step_count(); ++i) {
      const StepState& s = step(i);
      if (s.status != StepStatus::kRunning && s.status != StepStatus::kCompensating) continue;
      const Phase phase = s.status == StepStatus::kRunning ? Phase::kAction : Phase::kCompensation;
      if (phase == Phase::kAction && s.deadline) Emit(ScheduleDeadline{i, *s.deadline});
      if (s.waiting) {
        // Accepted: nothing to resend, the participant completes it; only its deadline is
        // armed again.
        Emit(ScheduleWaitTimeout{i, phase, CurrentAttempt(i, phase), s.waiting->due()});
      } else if (s.retry_at) {
        Emit(ScheduleRetry{i, phase, *s.retry_at});
      } else {
        // The intent was committed but no outcome was: the participant may or may not have
        // seen it, so the same attempt goes out again with the same idempotency key.
        const int attempt = phase == Phase::kAction ? s.attempts : s.compensation_attempts;
        Emit(CallParticipant{i, phase, attempt});
        Record("attempt_resent", i, phase, attempt);
      }
    }
    Advance();
  }

  void On(const AttemptFinished& e) {
    if (!IsCurrentAttempt(e.step, e.phase, e.attempt)) return;
    // A reply for an attempt that already waits is a duplicate of its acceptance: the
    // attempt ends with its completion (StepCompleted) or its deadline.
    if (step(e.step).waiting) return;
    if (e.outcome == AttemptOutcome::kAccepted) {
      BeginWaiting(e.step, e.phase, e.attempt);
      return;
    }
    Finish(e);
    Advance();
  }

  void BeginWaiting(int index, Phase phase, int attempt) {
    const StepDefinition& def = step_def(index);
    WaitingStep waiting;
    waiting.since = now_;
    waiting.deadline = now_ + def.completion_timeout;
    if (def.heartbeat_timeout) waiting.heartbeat_deadline = now_ + *def.heartbeat_timeout;
    nlohmann::json detail = {{"completion_timeout", FormatDuration(def.completion_timeout)}};
    if (def.heartbeat_timeout) detail["heartbeat_timeout"] = FormatDuration(*def.heartbeat_timeout);
    step(index).waiting = waiting;
    Record("attempt_accepted", index, phase, attempt, std::move(detail));
    Emit(ScheduleWaitTimeout{index, phase, attempt, waiting.due()});
  }

  void On(const StepCompleted& c) {
    if (!CheckCompletion(definition_, saga(), c, now_).ok()) return;
    const AttemptFinished& e = c.result;
    // Recorded even when the acceptance is not yet (the completion overtook the reply), so
    // that a repeat is recognised.
    step(e.step).waiting.reset();
    step(e.step).closed_wait =
        ClosedWait{e.phase, e.attempt, ClosedWait::How::kCompleted, CompletionResultJson(e), now_};
    Record("completion_received", e.step, e.phase, e.attempt,
           {{"outcome", OutcomeName(e.outcome)}});
    Finish(e);
    Advance();
  }

  void On(const HeartbeatReceived& h) {
    if (!CheckHeartbeat(definition_, saga(), h, now_).ok()) return;
    WaitingStep& waiting = *step(h.step).waiting;
    waiting.last_heartbeat = now_;
    if (h.details.is_object()) waiting.heartbeat_details = h.details;
    if (const auto timeout = step_def(h.step).heartbeat_timeout) {
      waiting.heartbeat_deadline = now_ + *timeout;
      Emit(ScheduleWaitTimeout{h.step, h.phase, h.attempt, waiting.due()});
    }
  }

  void On(const WaitTimedOut& w) {
    if (!IsCurrentAttempt(w.step, w.phase, w.attempt) || !step(w.step).waiting) return;
    const WaitingStep waiting = *step(w.step).waiting;
    // Moved on by a heartbeat since this timer was armed: the heartbeat armed another.
    if (now_ < waiting.due()) return;
    const StepDefinition& def = step_def(w.step);
    const bool completion_late = now_ >= waiting.deadline;
    const std::string error =
        completion_late
            ? "no completion within completion_timeout of " +
                  FormatDuration(def.completion_timeout) + " after the participant accepted"
            : "no heartbeat within heartbeat_timeout of " + FormatDuration(*def.heartbeat_timeout);
    EndWait(w.step, completion_late ? ClosedWait::How::kDeadline : ClosedWait::How::kHeartbeat,
            nullptr);
    Finish(AttemptFinished{w.step, w.phase, w.attempt, AttemptOutcome::kRetryableError, nullptr,
                           error, ""});
    Advance();
  }

  // Ends the step's waiting attempt, if it waits, remembering how (see ClosedWait).
  void EndWait(int index, ClosedWait::How how, nlohmann::json result) {
    StepState& s = step(index);
    if (!s.waiting) return;
    const Phase phase =
        s.status == StepStatus::kCompensating ? Phase::kCompensation : Phase::kAction;
    s.closed_wait = ClosedWait{phase, CurrentAttempt(index, phase), how, std::move(result), now_};
    s.waiting.reset();
  }

  int CurrentAttempt(int index, Phase phase) {
    return phase == Phase::kAction ? step(index).attempts : step(index).compensation_attempts;
  }

  // Decides the outcome of the attempt in progress, as its participant's reply.
  void Finish(const AttemptFinished& e) {
    StepState& s = step(e.step);
    AttemptOutcome outcome = e.outcome;
    if (outcome == AttemptOutcome::kRetryableError &&
        IsNonRetryable(PolicyFor(e.step, e.phase), e.error_code)) {
      outcome = AttemptOutcome::kFailure;
    }
    switch (outcome) {
      case AttemptOutcome::kSuccess:
        Record("attempt_succeeded", e.step, e.phase, e.attempt);
        if (e.phase == Phase::kAction) {
          s.status = StepStatus::kSucceeded;
          s.output = e.output;
          s.error.clear();
          s.deadline.reset();
        } else {
          s.status = StepStatus::kCompensated;
        }
        break;
      case AttemptOutcome::kRetryableError:
        Record("attempt_failed", e.step, e.phase, e.attempt,
               {{"error", e.error}, {"retryable", true}});
        s.error = e.error;
        if (MayRetry(e.step, e.phase, e.attempt)) {
          ScheduleNextAttempt(e.step, e.phase, e.attempt);
        } else if (e.phase == Phase::kAction) {
          FailStep(e.step, Exhausted(e.attempt, e.error), /*outcome_unknown=*/true);
        } else {
          FailCompensation(e.step, Exhausted(e.attempt, e.error));
        }
        break;
      case AttemptOutcome::kFailure:
        Record("attempt_failed", e.step, e.phase, e.attempt,
               {{"error", e.error}, {"retryable", false}});
        if (e.phase == Phase::kCompensation) {
          FailCompensation(e.step, e.error);
        } else if (step_def(e.step).after_pivot) {
          FailAfterPivot(e.step, e.error);
        } else {
          FailStep(e.step, e.error, /*outcome_unknown=*/false);
        }
        break;
      case AttemptOutcome::kAccepted:
        break;  // Not a result: handled before Finish is reached.
    }
  }

  void On(const RetryDue& e) {
    if (e.step < 0 || e.step >= step_count()) return;
    StepState& s = step(e.step);
    const StepStatus waiting =
        e.phase == Phase::kAction ? StepStatus::kRunning : StepStatus::kCompensating;
    if (s.status != waiting || !s.retry_at) return;
    if (now_ < *s.retry_at) {
      // Woken early (clocks differ between coordinators): wait out the rest.
      Emit(ScheduleRetry{e.step, e.phase, *s.retry_at});
      return;
    }
    if (e.phase == Phase::kAction && saga().status == SagaStatus::kCompensating) {
      Advance();  // Abandons the retry: see AbandonWaitingActions.
      return;
    }
    StartAttempt(e.step, e.phase);
    Advance();
  }

  void On(const DeadlinePassed& e) {
    if (saga().status != SagaStatus::kRunning) return;
    if (!e.step) {
      OnSagaDeadline();
      return;
    }
    if (*e.step < 0 || *e.step >= step_count()) return;
    StepState& s = step(*e.step);
    if (s.status != StepStatus::kRunning || !s.deadline || step_def(*e.step).forward_only()) {
      return;
    }
    if (now_ < *s.deadline) {
      Emit(ScheduleDeadline{e.step, *s.deadline});
      return;
    }
    FailStep(*e.step,
             "step_timeout of " + FormatDuration(*step_def(*e.step).step_timeout) +
                 " passed after " + Attempts(s.attempts) +
                 (s.error.empty() ? "" : "; last error: " + s.error),
             /*outcome_unknown=*/true);
    Advance();
  }

  void OnSagaDeadline() {
    if (!saga().deadline) return;
    if (now_ < *saga().deadline) {
      Emit(ScheduleDeadline{std::nullopt, *saga().deadline});
      return;
    }
    // Once the pivot has started, the saga only goes forward: its timeout no longer applies.
    if (auto pivot = definition_.Pivot(); pivot && step(*pivot).status != StepStatus::kPending) {
      return;
    }
    const std::string why = "saga timeout of " + FormatDuration(*definition_.timeout) + " passed";
    for (int i = 0; i < step_count(); ++i) {
      if (step(i).status == StepStatus::kRunning) {
        FailStep(i, why + " while the step was in progress", /*outcome_unknown=*/true);
      }
    }
    if (saga().status == SagaStatus::kRunning) {
      saga().status = SagaStatus::kCompensating;
      saga().error = why;
      Record("saga_compensating", {}, {}, 0, {{"error", saga().error}});
    }
    Advance();
  }

  void On(const OperatorAction& a) {
    if (!CheckOperatorAction(definition_, saga(), a).ok()) return;
    const nlohmann::json who = {{"operator", a.operator_name}, {"reason", a.reason}};
    switch (a.kind) {
      case OperatorAction::Kind::kAbort:
        Record("operator_abort", {}, {}, 0, who);
        Abort("aborted by " + a.operator_name + ": " + a.reason);
        break;
      case OperatorAction::Kind::kRetry:
        Record("operator_retry", {}, {}, 0, who);
        RetryFailed();
        break;
      case OperatorAction::Kind::kSkip:
        Skip(*a.step, a.operator_name + ": " + a.reason, who);
        break;
      case OperatorAction::Kind::kResolve:
        Resolve(*a.step, a.resolution, who);
        break;
    }
    Advance();
  }

  // Ends the step's waiting attempt with the operator's result, as a completion would.
  void Resolve(int index, AttemptFinished result, nlohmann::json who) {
    const Phase phase =
        step(index).status == StepStatus::kCompensating ? Phase::kCompensation : Phase::kAction;
    result.step = index;
    result.phase = phase;
    result.attempt = CurrentAttempt(index, phase);
    who["outcome"] = OutcomeName(result.outcome);
    Record("operator_resolve", index, phase, result.attempt, std::move(who));
    EndWait(index, ClosedWait::How::kResolved, CompletionResultJson(result));
    Finish(result);
  }

  // Stops going forward: steps in progress may have taken effect and are compensated too.
  void Abort(const std::string& why) {
    // The saga's error names the operator, not the step that happened to be in progress.
    saga().status = SagaStatus::kCompensating;
    saga().error = why;
    Record("saga_compensating", {}, {}, 0, {{"error", saga().error}});
    for (int i = 0; i < step_count(); ++i) {
      if (step(i).status == StepStatus::kRunning) {
        FailStep(i, why + " while the step was in progress", /*outcome_unknown=*/true);
      }
    }
  }

  // Nothing is in flight in a FAILED saga, so attempt numbers can start again at 1: no
  // late reply can be mistaken for the new attempts' (the idempotency key is unchanged).
  void RetryFailed() {
    bool forward = false;
    for (int i = 0; i < step_count(); ++i) {
      StepState& s = step(i);
      if (s.status == StepStatus::kCompensationFailed) {
        s.compensation_attempts = 0;
        StartAttempt(i, Phase::kCompensation);
      } else if (s.status == StepStatus::kFailed && step_def(i).after_pivot) {
        s.attempts = 0;
        forward = true;
        StartAttempt(i, Phase::kAction);
      }
    }
    saga().status = forward ? SagaStatus::kRunning : SagaStatus::kCompensating;
  }

  void Skip(int index, const std::string& by, const nlohmann::json& who) {
    EndWait(index, ClosedWait::How::kEnded, nullptr);
    StepState& s = step(index);
    s.retry_at.reset();
    if (s.status == StepStatus::kFailed) {
      // An after-pivot step the operator completed by hand: the saga goes forward again.
      Record("operator_skip", index, Phase::kAction, s.attempts, who);
      s.status = StepStatus::kSucceeded;
      s.output = nlohmann::json::object();
      s.error = "completed by hand, " + by;
      saga().status = SagaStatus::kRunning;
      return;
    }
    Record("operator_skip", index, Phase::kCompensation, s.compensation_attempts, who);
    s.status = StepStatus::kCompensated;
    s.error = "compensation skipped, undone by hand, " + by;
    if (saga().status == SagaStatus::kFailed) saga().status = SagaStatus::kCompensating;
  }

  bool IsCurrentAttempt(int index, Phase phase, int attempt) {
    return InProgress(saga(), index, phase, attempt);
  }

  const RetryPolicy& PolicyFor(int index, Phase phase) const {
    return phase == Phase::kAction ? step_def(index).retry : step_def(index).compensation_retry;
  }

  bool MayRetry(int index, Phase phase, int attempt) {
    if (phase == Phase::kAction) {
      // Once the saga is compensating, its forward steps are no longer pushed on.
      if (saga().status != SagaStatus::kRunning) return false;
      // Past the point of no return there is no way back: keep trying.
      if (step_def(index).forward_only()) return true;
    }
    return attempt < PolicyFor(index, phase).max_attempts;
  }

  static std::string Attempts(int attempts) {
    return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
  }

  static std::string Exhausted(int attempts, const std::string& error) {
    return "gave up after " + Attempts(attempts) + ": " + error;
  }

  void ScheduleNextAttempt(int index, Phase phase, int attempt) {
    const int phase_salt = phase == Phase::kAction ? 0 : 1;
    const auto delay = BackoffBefore(PolicyFor(index, phase), attempt + 1,
                                     JitterDraw(saga().id, index * 2 + phase_salt, attempt + 1));
    const TimePoint at = now_ + delay;
    step(index).retry_at = at;
    Emit(ScheduleRetry{index, phase, at});
    Record("retry_scheduled", index, phase, attempt + 1, {{"delay_ms", delay.count()}});
  }

  void StartAttempt(int index, Phase phase) {
    EndWait(index, ClosedWait::How::kEnded, nullptr);
    StepState& s = step(index);
    s.retry_at.reset();
    int attempt;
    if (phase == Phase::kAction) {
      s.status = StepStatus::kRunning;
      attempt = ++s.attempts;
    } else {
      s.status = StepStatus::kCompensating;
      attempt = ++s.compensation_attempts;
    }
    Emit(CallParticipant{index, phase, attempt});
    Record("attempt_started", index, phase, attempt);
  }

  // Renders the step's input, arms its step timeout and sends its first attempt. A step
  // whose input cannot be rendered fails without being called.
  void StartStep(int index) {
    StepState& s = step(index);
    const StepDefinition& def = step_def(index);
    if (def.input) {
      auto rendered = Render(*def.input, TemplateData{definition_, saga()});
      if (!rendered.ok()) {
        FailStep(index, std::string(rendered.status().message()), /*outcome_unknown=*/false);
        return;
      }
      s.input = *std::move(rendered);
    } else {
      s.input = saga().input;
    }
    if (def.step_timeout && !def.forward_only()) {
      s.deadline = now_ + *def.step_timeout;
      Emit(ScheduleDeadline{index, *s.deadline});
    }
    StartAttempt(index, Phase::kAction);
  }

  void FailStep(int index, const std::string& error, bool outcome_unknown) {
    EndWait(index, ClosedWait::How::kEnded, nullptr);
    StepState& s = step(index);
    s.status = StepStatus::kFailed;
    s.retry_at.reset();
    s.deadline.reset();
    s.error = error;
    s.outcome_unknown = outcome_unknown;
    Record("step_failed", index, Phase::kAction, s.attempts,
           {{"error", error}, {"outcome_unknown", outcome_unknown}});
    if (saga().status == SagaStatus::kRunning) {
      saga().status = SagaStatus::kCompensating;
      saga().error = "step " + step_def(index).name + " failed: " + error;
      Record("saga_compensating", {}, {}, 0, {{"error", saga().error}});
    }
  }

  // A step after the pivot refused outright: there is no going back and retrying will not
  // help, so an operator must decide.
  void FailAfterPivot(int index, const std::string& error) {
    StepState& s = step(index);
    s.status = StepStatus::kFailed;
    s.retry_at.reset();
    s.error = error;
    Record("step_failed", index, Phase::kAction, s.attempts, {{"error", error}});
    saga().status = SagaStatus::kFailed;
    saga().error = "step " + step_def(index).name +
                   " failed after the pivot, where the saga can only go forward: " + error;
    Record("saga_failed", {}, {}, 0, {{"error", saga().error}});
  }

  void FailCompensation(int index, const std::string& error) {
    EndWait(index, ClosedWait::How::kEnded, nullptr);
    StepState& s = step(index);
    s.status = StepStatus::kCompensationFailed;
    s.retry_at.reset();
    s.error = error;
    Record("compensation_failed", index, Phase::kCompensation, s.compensation_attempts,
           {{"error", error}});
  }

  // A step whose action may have taken effect and is not yet undone.
  bool NeedsCompensation(int index) {
    const StepState& s = step(index);
    return s.status == StepStatus::kSucceeded ||
           (s.status == StepStatus::kFailed && s.outcome_unknown);
  }

  // A dependent that no longer stands in the way of compensating what it depends on.
  bool IsSettled(int index) {
    const StepState& s = step(index);
    return s.status == StepStatus::kPending || s.status == StepStatus::kCompensated ||
           s.status == StepStatus::kSkipped ||
           (s.status == StepStatus::kFailed && !s.outcome_unknown);
  }

  bool IsInFlight(int index) {
    const StepStatus status = step(index).status;
    return status == StepStatus::kRunning || status == StepStatus::kCompensating;
  }

  bool IsDone(int index) {
    const StepStatus status = step(index).status;
    return status == StepStatus::kSucceeded || status == StepStatus::kSkipped;
  }

  void Advance() {
    if (saga().status == SagaStatus::kRunning) AdvanceForward();
    if (saga().status == SagaStatus::kCompensating) AdvanceCompensation();
  }

  void AdvanceForward() {
    // Skipping a step may make its dependents ready: repeat until nothing more starts.
    for (bool progressed = true; progressed && saga().status == SagaStatus::kRunning;) {
      progressed = false;
      for (int i = 0; i < step_count() && saga().status == SagaStatus::kRunning; ++i) {
        if (step(i).status != StepStatus::kPending) continue;
        if (!std::ranges::all_of(step_def(i).after, [this](int d) { return IsDone(d); })) {
          continue;
        }
        if (step_def(i).when && !Evaluate(*step_def(i).when, TemplateData{definition_, saga()})) {
          step(i).status = StepStatus::kSkipped;
          Record("step_skipped", i);
          progressed = true;
          continue;
        }
        StartStep(i);
      }
    }
    if (saga().status != SagaStatus::kRunning) return;
    for (int i = 0; i < step_count(); ++i) {
      if (!IsDone(i)) return;
    }
    if (definition_.output) {
      auto output = Render(*definition_.output, TemplateData{definition_, saga()},
                           /*missing_as_null=*/true);
      saga().output = output.ok() ? *std::move(output) : nullptr;
    }
    saga().status = SagaStatus::kCompleted;
    Record("saga_completed");
  }

  // Forward steps waiting to retry are not retried once the saga compensates; their earlier
  // attempts may have taken effect, so they are compensated too.
  void AbandonWaitingActions() {
    for (int i = 0; i < step_count(); ++i) {
      StepState& s = step(i);
      if (s.status == StepStatus::kRunning && s.retry_at) {
        FailStep(i, "abandoned while the saga compensates; last error: " + s.error,
                 /*outcome_unknown=*/true);
      }
    }
  }

  void AdvanceCompensation() {
    AbandonWaitingActions();
    // Steps without a compensation are settled at once, which may free the steps they
    // depend on: repeat until nothing more can start.
    for (bool progressed = true; progressed;) {
      progressed = false;
      for (int i = step_count() - 1; i >= 0; --i) {
        if (!NeedsCompensation(i)) continue;
        const auto dependents = definition_.Dependents(i);
        if (!std::ranges::all_of(dependents, [this](int d) { return IsSettled(d); })) continue;
        if (step_def(i).has_compensation()) {
          StartAttempt(i, Phase::kCompensation);
        } else {
          step(i).status = StepStatus::kCompensated;
          Record("compensation_not_defined", i, Phase::kCompensation, 0);
          progressed = true;
        }
      }
    }
    for (int i = 0; i < step_count(); ++i) {
      if (IsInFlight(i)) return;
    }
    // Nothing is in flight: either everything is undone, or a compensation that failed for
    // good blocks the rest, and an operator must step in.
    for (int i = 0; i < step_count(); ++i) {
      if (step(i).status != StepStatus::kCompensationFailed) continue;
      saga().status = SagaStatus::kFailed;
      saga().error = "compensation of step " + step_def(i).name + " failed: " + step(i).error +
                     " (compensating because " + saga().error + ")";
      Record("saga_failed", {}, {}, 0, {{"error", saga().error}});
      return;
    }
    saga().status = SagaStatus::kCompensated;
    Record("saga_compensated");
  }

  void Emit(Command command) { out_.commands.push_back(std::move(command)); }

  void Record(std::string type, std::optional<int> index = {}, std::optional<Phase> phase = {},
              int attempt = 0, nlohmann::json detail = nlohmann::json::object()) {
    out_.history.push_back(HistoryEntry{std::move(type), index, phase, attempt, std::move(detail)});
  }

  const SagaDefinition& definition_;
  const TimePoint now_;
  Transition out_;
};

}  // namespace

Transition Decide(const SagaDefinition& definition, const SagaState& state, const Event& event,
                  TimePoint now) {
  return Decider(definition, state, now).Run(event);
}

absl::Status CheckOperatorAction(const SagaDefinition& definition, const SagaState& state,
                                 const OperatorAction& action) {
  const std::string saga_is = "the saga is " + std::string(ToString(state.status));
  switch (action.kind) {
    case OperatorAction::Kind::kAbort: {
      if (state.status != SagaStatus::kRunning) {
        return absl::FailedPreconditionError(saga_is + ": only a RUNNING saga can be aborted");
      }
      if (auto pivot = definition.Pivot();
          pivot && state.steps[*pivot].status != StepStatus::kPending) {
        return absl::FailedPreconditionError(
            "the pivot step " + definition.steps[*pivot].name +
            " has started: the saga can only go forward now, it cannot be aborted");
      }
      return absl::OkStatus();
    }
    case OperatorAction::Kind::kRetry:
      if (state.status != SagaStatus::kFailed) {
        return absl::FailedPreconditionError(saga_is + ": only a FAILED saga can be retried");
      }
      return absl::OkStatus();
    case OperatorAction::Kind::kSkip: {
      if (!action.step || *action.step < 0 ||
          *action.step >= static_cast<int>(definition.steps.size())) {
        return absl::InvalidArgumentError("step: not a step of the saga");
      }
      const StepStatus status = state.steps[*action.step].status;
      const std::string step_is =
          "step " + definition.steps[*action.step].name + " is " + std::string(ToString(status));
      const bool stuck_compensation =
          (status == StepStatus::kCompensationFailed && state.status == SagaStatus::kFailed) ||
          (status == StepStatus::kCompensating && state.status == SagaStatus::kCompensating);
      const bool failed_after_pivot = status == StepStatus::kFailed &&
                                      definition.steps[*action.step].after_pivot &&
                                      state.status == SagaStatus::kFailed;
      if (!stuck_compensation && !failed_after_pivot) {
        return absl::FailedPreconditionError(
            step_is + " and " + saga_is +
            ": only a compensation that failed or is being retried, or an after-pivot step "
            "that failed, can be skipped");
      }
      return absl::OkStatus();
    }
    case OperatorAction::Kind::kResolve: {
      if (!action.step || *action.step < 0 ||
          *action.step >= static_cast<int>(definition.steps.size())) {
        return absl::InvalidArgumentError("step: not a step of the saga");
      }
      if (action.resolution.outcome == AttemptOutcome::kAccepted) {
        return absl::InvalidArgumentError(
            "result: a step is resolved with a success, a retryable error or a failure");
      }
      const StepState& step = state.steps[*action.step];
      if (!step.waiting || IsTerminal(state.status)) {
        return absl::FailedPreconditionError(
            "step " + definition.steps[*action.step].name + " is " +
            std::string(ShownStatus(step)) + " and " + saga_is +
            ": only a WAITING or COMPENSATION_WAITING step (one its participant accepted) can "
            "be resolved");
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("unknown operator action");
}

nlohmann::json CompletionResultJson(const AttemptFinished& result) {
  return {{"outcome", OutcomeName(result.outcome)},
          {"output", result.outcome == AttemptOutcome::kSuccess ? result.output : nullptr},
          {"error_code", result.error_code},
          {"error", result.error}};
}

absl::Status CheckCompletion(const SagaDefinition& definition, const SagaState& state,
                             const StepCompleted& completion, TimePoint now) {
  const AttemptFinished& e = completion.result;
  if (e.step < 0 || e.step >= static_cast<int>(definition.steps.size()) ||
      state.steps.size() != definition.steps.size()) {
    return absl::NotFoundError("unknown or forged completion token");
  }
  if (e.outcome == AttemptOutcome::kAccepted) {
    return absl::InvalidArgumentError(
        "result.outcome: a completion is a success, a retryable error or a business failure, "
        "not another acceptance");
  }
  const StepDefinition& def = definition.steps[e.step];
  const StepState& s = state.steps[e.step];
  const std::string attempt = AttemptName(definition, e.step, e.phase, e.attempt);
  const std::string retry_note =
      "; the retry policy applies, each new attempt with a new completion token";
  if (s.closed_wait && s.closed_wait->phase == e.phase && s.closed_wait->attempt == e.attempt) {
    const ClosedWait& closed = *s.closed_wait;
    switch (closed.how) {
      case ClosedWait::How::kCompleted:
      case ClosedWait::How::kResolved: {
        if (closed.result == CompletionResultJson(e)) {
          return absl::AlreadyExistsError(attempt + " was already completed with this result");
        }
        const std::string outcome = closed.result.is_object()
                                        ? closed.result.value("outcome", std::string("unknown"))
                                        : std::string("unknown");
        return absl::FailedPreconditionError(
            attempt + " was already " +
            (closed.how == ClosedWait::How::kResolved ? "resolved by an operator" : "completed") +
            " with another result (" + outcome + "); a recorded result cannot be changed");
      }
      case ClosedWait::How::kDeadline:
        return absl::FailedPreconditionError(
            attempt +
            " is past its deadline: no completion is taken later than completion_timeout "
            "of " +
            FormatDuration(def.completion_timeout) +
            " after the acceptance, and the attempt failed" + retry_note);
      case ClosedWait::How::kHeartbeat:
        return absl::FailedPreconditionError(
            attempt + " failed when no heartbeat came within its heartbeat_timeout of " +
            (def.heartbeat_timeout ? FormatDuration(*def.heartbeat_timeout) : std::string("?")) +
            retry_note);
      case ClosedWait::How::kEnded:
        break;
    }
  }
  if (InProgress(state, e.step, e.phase, e.attempt) && !IsTerminal(state.status)) {
    if (s.waiting && now >= s.waiting->deadline) {
      return absl::FailedPreconditionError(
          attempt +
          " is past its deadline: no completion is taken later than completion_timeout "
          "of " +
          FormatDuration(def.completion_timeout) + " after the acceptance" + retry_note);
    }
    if (s.waiting && s.waiting->heartbeat_deadline && now >= *s.waiting->heartbeat_deadline) {
      return absl::FailedPreconditionError(attempt +
                                           " is past its heartbeat deadline: no heartbeat came "
                                           "within its heartbeat_timeout of " +
                                           FormatDuration(*def.heartbeat_timeout) + retry_note);
    }
    return absl::OkStatus();
  }
  if (IsTerminal(state.status)) {
    return absl::FailedPreconditionError("the saga is " + std::string(ToString(state.status)) +
                                         ": " + attempt + " no longer takes a completion");
  }
  const int current = e.phase == Phase::kAction ? s.attempts : s.compensation_attempts;
  if (e.attempt < current || (e.attempt == current && s.retry_at)) {
    return absl::FailedPreconditionError(
        "stale completion token: it is for " + attempt + ", and the step has moved on to attempt " +
        std::to_string(s.retry_at ? current + 1 : current) + " (" +
        (s.error.empty() ? std::string(ShownStatus(s)) : "after: " + s.error) + ")");
  }
  return absl::FailedPreconditionError(attempt + " is not in progress: the step is " +
                                       std::string(ShownStatus(s)) +
                                       (s.error.empty() ? "" : " (" + s.error + ")"));
}

absl::Status CheckHeartbeat(const SagaDefinition& definition, const SagaState& state,
                            const HeartbeatReceived& heartbeat, TimePoint now) {
  if (heartbeat.step < 0 || heartbeat.step >= static_cast<int>(definition.steps.size()) ||
      state.steps.size() != definition.steps.size()) {
    return absl::NotFoundError("unknown or forged completion token");
  }
  const StepState& s = state.steps[heartbeat.step];
  const std::string attempt =
      AttemptName(definition, heartbeat.step, heartbeat.phase, heartbeat.attempt);
  if (!InProgress(state, heartbeat.step, heartbeat.phase, heartbeat.attempt) || !s.waiting ||
      IsTerminal(state.status)) {
    return absl::FailedPreconditionError(
        attempt + " is not waiting for a completion (the step is " + std::string(ShownStatus(s)) +
        ", at attempt " +
        std::to_string(heartbeat.phase == Phase::kAction ? s.attempts : s.compensation_attempts) +
        "): a heartbeat keeps alive only an accepted attempt in progress");
  }
  if (now >= s.waiting->due()) {
    return absl::FailedPreconditionError(attempt +
                                         " is past its deadline: a heartbeat came too late");
  }
  return absl::OkStatus();
}

absl::Status CheckSubmitted(const SagaDefinition& definition, const SagaState& state,
                            const Event& event, TimePoint now) {
  if (const auto* action = std::get_if<OperatorAction>(&event)) {
    return CheckOperatorAction(definition, state, *action);
  }
  if (const auto* completion = std::get_if<StepCompleted>(&event)) {
    return CheckCompletion(definition, state, *completion, now);
  }
  if (const auto* heartbeat = std::get_if<HeartbeatReceived>(&event)) {
    return CheckHeartbeat(definition, state, *heartbeat, now);
  }
  return absl::OkStatus();
}

}  // namespace skald::core
