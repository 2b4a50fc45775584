#include "coordinator/core/state_machine.h"

#include <gtest/gtest.h>

#include "tests/unit/make_policy.h"

namespace skald::core {
namespace {

using std::chrono::milliseconds;

constexpr int kActionAttempts = 3;
constexpr int kCompensationAttempts = 2;

// Steps s0..s(n-1), each depending on the one before; every step has a compensation
// unless listed in `without_compensation`.
SagaDefinition LinearDefinition(int steps, std::vector<int> without_compensation = {}) {
  SagaDefinition definition;
  definition.name = "test";
  definition.version = 1;
  for (int i = 0; i < steps; ++i) {
    StepDefinition step;
    step.name = "s" + std::to_string(i);
    step.participant = "127.0.0.1:1";
    step.action = "do";
    if (std::ranges::find(without_compensation, i) == without_compensation.end()) {
      step.compensation = "undo";
    }
    step.retry = MakePolicy(kActionAttempts, milliseconds(100), 2.0, milliseconds(150));
    step.compensation_retry =
        MakePolicy(kCompensationAttempts, milliseconds(10), 1.0, milliseconds(10));
    if (i > 0) step.after = {i - 1};
    definition.steps.push_back(step);
  }
  return definition;
}

// Feeds events to one saga, keeping its state between them as the engine does.
class SagaDriver {
 public:
  explicit SagaDriver(SagaDefinition definition)
      : definition_(std::move(definition)),
        state_(NewSagaState("saga-1", {{"k", 1}}, definition_.steps.size())) {}

  Transition Apply(const Event& event) {
    Transition t = Decide(definition_, state_, event, now_);
    state_ = t.state;
    return t;
  }
  Transition Succeed(int step, Phase phase, int attempt, nlohmann::json output = {{"ok", 1}}) {
    return Apply(AttemptFinished{step, phase, attempt, AttemptOutcome::kSuccess, output, ""});
  }
  Transition Retryable(int step, Phase phase, int attempt) {
    return Apply(
        AttemptFinished{step, phase, attempt, AttemptOutcome::kRetryableError, nullptr, "timeout"});
  }
  Transition Fail(int step, Phase phase, int attempt) {
    return Apply(
        AttemptFinished{step, phase, attempt, AttemptOutcome::kFailure, nullptr, "declined: no"});
  }
  void Advance(milliseconds by) { now_ += by; }

  const SagaState& state() const { return state_; }
  TimePoint now() const { return now_; }

 private:
  SagaDefinition definition_;
  SagaState state_;
  TimePoint now_ = TimePoint(std::chrono::seconds(1'700'000'000));
};

std::vector<CallParticipant> Calls(const Transition& t) {
  std::vector<CallParticipant> calls;
  for (const Command& c : t.commands) {
    if (auto* call = std::get_if<CallParticipant>(&c)) calls.push_back(*call);
  }
  return calls;
}

std::vector<ScheduleRetry> Retries(const Transition& t) {
  std::vector<ScheduleRetry> retries;
  for (const Command& c : t.commands) {
    if (auto* retry = std::get_if<ScheduleRetry>(&c)) retries.push_back(*retry);
  }
  return retries;
}

std::vector<std::string> HistoryTypes(const Transition& t) {
  std::vector<std::string> types;
  for (const HistoryEntry& e : t.history) types.push_back(e.type);
  return types;
}

void ExpectSingleCall(const Transition& t, int step, Phase phase, int attempt) {
  auto calls = Calls(t);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].step, step);
  EXPECT_EQ(calls[0].phase, phase);
  EXPECT_EQ(calls[0].attempt, attempt);
}

TEST(StateMachine, ANewSagaStartsItsFirstStepOnly) {
  SagaDriver saga(LinearDefinition(3));
  Transition t = saga.Apply(SagaResumed{});
  ExpectSingleCall(t, 0, Phase::kAction, 1);
  EXPECT_EQ(saga.state().status, SagaStatus::kRunning);
  EXPECT_EQ(saga.state().steps[0].status, StepStatus::kRunning);
  EXPECT_EQ(saga.state().steps[0].attempts, 1);
  EXPECT_EQ(saga.state().steps[1].status, StepStatus::kPending);
  EXPECT_EQ(HistoryTypes(t), std::vector<std::string>{"attempt_started"});
}

TEST(StateMachine, StepsRunInOrderAndTheSagaCompletes) {
  SagaDriver saga(LinearDefinition(3));
  saga.Apply(SagaResumed{});
  ExpectSingleCall(saga.Succeed(0, Phase::kAction, 1, {{"order", 7}}), 1, Phase::kAction, 1);
  EXPECT_EQ(saga.state().steps[0].status, StepStatus::kSucceeded);
  EXPECT_EQ(saga.state().steps[0].output, (nlohmann::json{{"order", 7}}));
  ExpectSingleCall(saga.Succeed(1, Phase::kAction, 1), 2, Phase::kAction, 1);
  Transition last = saga.Succeed(2, Phase::kAction, 1);
  EXPECT_TRUE(last.commands.empty());
  EXPECT_EQ(saga.state().status, SagaStatus::kCompleted);
  EXPECT_EQ(HistoryTypes(last), (std::vector<std::string>{"attempt_succeeded", "saga_completed"}));
  for (const StepState& step : saga.state().steps) EXPECT_EQ(step.status, StepStatus::kSucceeded);
}

// A business failure at each position compensates exactly the steps before it, last first,
// and never the failed step itself.
class BusinessFailureAt : public ::testing::TestWithParam<int> {};

TEST_P(BusinessFailureAt, CompensatesTheCompletedStepsInReverseOrder) {
  const int failing = GetParam();
  SagaDriver saga(LinearDefinition(4));
  saga.Apply(SagaResumed{});
  for (int i = 0; i < failing; ++i) saga.Succeed(i, Phase::kAction, 1);
  Transition t = saga.Fail(failing, Phase::kAction, 1);
  EXPECT_EQ(saga.state().steps[failing].status, StepStatus::kFailed);
  EXPECT_FALSE(saga.state().steps[failing].outcome_unknown);
  EXPECT_EQ(saga.state().steps[failing].error, "declined: no");
  EXPECT_EQ(saga.state().error, "step s" + std::to_string(failing) + " failed: declined: no");
  for (int i = failing - 1; i >= 0; --i) {
    EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
    ExpectSingleCall(t, i, Phase::kCompensation, 1);
    EXPECT_EQ(saga.state().steps[i].status, StepStatus::kCompensating);
    t = saga.Succeed(i, Phase::kCompensation, 1);
    EXPECT_EQ(saga.state().steps[i].status, StepStatus::kCompensated);
  }
  EXPECT_TRUE(Calls(t).empty());
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
  EXPECT_EQ(saga.state().steps[failing].status, StepStatus::kFailed);
  for (int i = failing + 1; i < 4; ++i) {
    EXPECT_EQ(saga.state().steps[i].status, StepStatus::kPending);
  }
  EXPECT_EQ(t.history.back().type, "saga_compensated");
}

INSTANTIATE_TEST_SUITE_P(EveryPosition, BusinessFailureAt, ::testing::Values(0, 1, 2, 3));

TEST(StateMachine, ARetryableErrorWaitsWithGrowingBackoff) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  Transition t = saga.Retryable(0, Phase::kAction, 1);
  ASSERT_EQ(Retries(t).size(), 1u);
  EXPECT_EQ(Retries(t)[0].at, saga.now() + milliseconds(100));
  EXPECT_TRUE(Calls(t).empty());
  EXPECT_EQ(saga.state().steps[0].status, StepStatus::kRunning);
  EXPECT_EQ(saga.state().steps[0].retry_at, saga.now() + milliseconds(100));
  EXPECT_EQ(saga.state().steps[0].error, "timeout");

  saga.Advance(milliseconds(100));
  t = saga.Apply(RetryDue{0, Phase::kAction});
  ExpectSingleCall(t, 0, Phase::kAction, 2);
  EXPECT_FALSE(saga.state().steps[0].retry_at.has_value());

  t = saga.Retryable(0, Phase::kAction, 2);
  // 100ms * 2 = 200ms, capped at the policy's 150ms.
  EXPECT_EQ(Retries(t)[0].at, saga.now() + milliseconds(150));
  saga.Advance(milliseconds(150));
  ExpectSingleCall(saga.Apply(RetryDue{0, Phase::kAction}), 0, Phase::kAction, 3);
  ExpectSingleCall(saga.Succeed(0, Phase::kAction, 3), 1, Phase::kAction, 1);
  EXPECT_EQ(saga.state().steps[0].attempts, 3);
  EXPECT_TRUE(saga.state().steps[0].error.empty());
}

TEST(StateMachine, ARetryTimerThatFiresEarlyIsRearmed) {
  SagaDriver saga(LinearDefinition(1));
  saga.Apply(SagaResumed{});
  saga.Retryable(0, Phase::kAction, 1);
  const TimePoint due = *saga.state().steps[0].retry_at;
  saga.Advance(milliseconds(40));
  Transition t = saga.Apply(RetryDue{0, Phase::kAction});
  EXPECT_TRUE(Calls(t).empty());
  ASSERT_EQ(Retries(t).size(), 1u);
  EXPECT_EQ(Retries(t)[0].at, due);
  EXPECT_EQ(saga.state().steps[0].attempts, 1);
}

TEST(StateMachine, ExhaustedRetriesFailTheStepAndCompensateItToo) {
  SagaDriver saga(LinearDefinition(3));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  for (int attempt = 1; attempt < kActionAttempts; ++attempt) {
    saga.Retryable(1, Phase::kAction, attempt);
    saga.Advance(milliseconds(200));
    saga.Apply(RetryDue{1, Phase::kAction});
  }
  Transition t = saga.Retryable(1, Phase::kAction, kActionAttempts);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
  // The step may have taken effect on a timed-out attempt, so it is compensated first.
  EXPECT_TRUE(saga.state().steps[1].outcome_unknown);
  EXPECT_EQ(saga.state().steps[1].error, "gave up after 3 attempts: timeout");
  ExpectSingleCall(t, 1, Phase::kCompensation, 1);
  ExpectSingleCall(saga.Succeed(1, Phase::kCompensation, 1), 0, Phase::kCompensation, 1);
  saga.Succeed(0, Phase::kCompensation, 1);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
  EXPECT_EQ(saga.state().steps[2].status, StepStatus::kPending);
}

TEST(StateMachine, CompensationsAreRetriedThenTheSagaFailsForAnOperator) {
  SagaDriver saga(LinearDefinition(3));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  saga.Succeed(1, Phase::kAction, 1);
  saga.Fail(2, Phase::kAction, 1);
  Transition t = saga.Retryable(1, Phase::kCompensation, 1);
  ASSERT_EQ(Retries(t).size(), 1u);
  EXPECT_EQ(Retries(t)[0].phase, Phase::kCompensation);
  saga.Advance(milliseconds(10));
  ExpectSingleCall(saga.Apply(RetryDue{1, Phase::kCompensation}), 1, Phase::kCompensation, 2);
  t = saga.Retryable(1, Phase::kCompensation, kCompensationAttempts);
  EXPECT_EQ(saga.state().steps[1].status, StepStatus::kCompensationFailed);
  // s0 must not be undone while s1, which depends on it, could not be.
  EXPECT_EQ(saga.state().steps[0].status, StepStatus::kSucceeded);
  EXPECT_TRUE(Calls(t).empty());
  EXPECT_EQ(saga.state().status, SagaStatus::kFailed);
  EXPECT_EQ(saga.state().error,
            "compensation of step s1 failed: gave up after 2 attempts: timeout "
            "(compensating because step s2 failed: declined: no)");
  EXPECT_EQ(t.history.back().type, "saga_failed");
}

TEST(StateMachine, ACompensationRefusedOutrightFailsWithoutRetry) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  saga.Fail(1, Phase::kAction, 1);
  Transition t = saga.Fail(0, Phase::kCompensation, 1);
  EXPECT_TRUE(Retries(t).empty());
  EXPECT_EQ(saga.state().steps[0].status, StepStatus::kCompensationFailed);
  EXPECT_EQ(saga.state().status, SagaStatus::kFailed);
}

TEST(StateMachine, StepsWithoutCompensationAreSettledWithoutACall) {
  SagaDriver saga(LinearDefinition(3, /*without_compensation=*/{1}));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  saga.Succeed(1, Phase::kAction, 1);
  Transition t = saga.Fail(2, Phase::kAction, 1);
  EXPECT_EQ(saga.state().steps[1].status, StepStatus::kCompensated);
  ExpectSingleCall(t, 0, Phase::kCompensation, 1);
  const auto types = HistoryTypes(t);
  EXPECT_NE(std::ranges::find(types, "compensation_not_defined"), types.end());
}

TEST(StateMachine, StaleAndUnknownRepliesChangeNothing) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  saga.Retryable(0, Phase::kAction, 1);
  const SagaState waiting = saga.state();
  // A duplicate reply for attempt 1 while the step waits to retry.
  Transition t = saga.Succeed(0, Phase::kAction, 1);
  EXPECT_EQ(saga.state(), waiting);
  EXPECT_TRUE(t.commands.empty());
  EXPECT_TRUE(t.history.empty());
  // A reply for an attempt never made, a step out of range, the wrong phase.
  saga.Succeed(0, Phase::kAction, 7);
  saga.Succeed(9, Phase::kAction, 1);
  saga.Succeed(-1, Phase::kAction, 1);
  saga.Succeed(0, Phase::kCompensation, 1);
  saga.Apply(RetryDue{1, Phase::kAction});
  saga.Apply(RetryDue{5, Phase::kAction});
  EXPECT_EQ(saga.state(), waiting);
}

TEST(StateMachine, ATerminalSagaIgnoresEverything) {
  SagaDriver saga(LinearDefinition(1));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  ASSERT_EQ(saga.state().status, SagaStatus::kCompleted);
  const SagaState done = saga.state();
  for (const Event& e : std::vector<Event>{
           SagaResumed{}, RetryDue{0, Phase::kAction},
           AttemptFinished{0, Phase::kAction, 1, AttemptOutcome::kSuccess, nullptr, ""}}) {
    Transition t = saga.Apply(e);
    EXPECT_TRUE(t.commands.empty());
    EXPECT_TRUE(t.history.empty());
  }
  EXPECT_EQ(saga.state(), done);
}

TEST(StateMachine, ResumingResendsInFlightAttemptsWithTheSameNumber) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  // The coordinator restarts with s1's attempt 1 committed but unanswered.
  Transition t = saga.Apply(SagaResumed{});
  ExpectSingleCall(t, 1, Phase::kAction, 1);
  EXPECT_EQ(saga.state().steps[1].attempts, 1);
  EXPECT_EQ(HistoryTypes(t), std::vector<std::string>{"attempt_resent"});
}

TEST(StateMachine, ResumingRearmsStoredRetryTimers) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  saga.Retryable(0, Phase::kAction, 1);
  const TimePoint due = *saga.state().steps[0].retry_at;
  Transition t = saga.Apply(SagaResumed{});
  EXPECT_TRUE(Calls(t).empty());
  ASSERT_EQ(Retries(t).size(), 1u);
  EXPECT_EQ(Retries(t)[0].at, due);
}

TEST(StateMachine, ResumingACompensatingSagaResendsTheCompensation) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  saga.Fail(1, Phase::kAction, 1);
  ExpectSingleCall(saga.Apply(SagaResumed{}), 0, Phase::kCompensation, 1);
}

TEST(StateMachine, HistoryNamesStepPhaseAndAttempt) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  Transition t = saga.Retryable(0, Phase::kAction, 1);
  ASSERT_EQ(t.history.size(), 2u);
  EXPECT_EQ(t.history[0].type, "attempt_failed");
  EXPECT_EQ(t.history[0].step, 0);
  EXPECT_EQ(t.history[0].phase, Phase::kAction);
  EXPECT_EQ(t.history[0].attempt, 1);
  EXPECT_EQ(t.history[0].detail["error"], "timeout");
  EXPECT_EQ(t.history[0].detail["retryable"], true);
  EXPECT_EQ(t.history[1].type, "retry_scheduled");
  EXPECT_EQ(t.history[1].attempt, 2);
  EXPECT_EQ(t.history[1].detail["delay_ms"], 100);
}

OperatorAction Abort() {
  return {OperatorAction::Kind::kAbort, std::nullopt, "ada", "customer cancelled"};
}
OperatorAction Retry() {
  return {OperatorAction::Kind::kRetry, std::nullopt, "ada", "inventory is back"};
}
OperatorAction SkipStep(int step) {
  return {OperatorAction::Kind::kSkip, step, "ada", "released the stock by hand"};
}

// s0, s1 succeeded; s2 refused; s1's compensation gave up: the saga is FAILED.
SagaDriver FailedSaga() {
  SagaDriver saga(LinearDefinition(3));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  saga.Succeed(1, Phase::kAction, 1);
  saga.Fail(2, Phase::kAction, 1);
  saga.Fail(1, Phase::kCompensation, 1);
  return saga;
}

TEST(OperatorAction, AbortCompensatesWhatIsDoneAndWhatIsInProgress) {
  SagaDriver saga(LinearDefinition(3));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);  // s1 now in progress
  Transition t = saga.Apply(Abort());
  EXPECT_EQ(t.history.front().type, "operator_abort");
  EXPECT_EQ(t.history.front().detail,
            nlohmann::json({{"operator", "ada"}, {"reason", "customer cancelled"}}));
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
  EXPECT_EQ(saga.state().error, "aborted by ada: customer cancelled");
  EXPECT_EQ(saga.state().steps[1].status, StepStatus::kCompensating)
      << "s1 may have taken effect: compensated first";
  ExpectSingleCall(t, 1, Phase::kCompensation, 1);
  saga.Succeed(1, Phase::kCompensation, 1);
  saga.Succeed(0, Phase::kCompensation, 1);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
  EXPECT_EQ(saga.state().steps[2].status, StepStatus::kPending) << "never started";
  // A late reply of the aborted attempt changes nothing.
  EXPECT_TRUE(saga.Succeed(1, Phase::kAction, 1).history.empty());
}

TEST(OperatorAction, AbortIsRefusedOnceThePivotStartedOrTheSagaIsNotRunning) {
  SagaDefinition definition = LinearDefinition(3);
  definition.steps[1].pivot = true;
  definition.steps[2].after_pivot = true;
  SagaDriver saga(definition);
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);  // the pivot s1 starts
  const absl::Status refused = CheckOperatorAction(definition, saga.state(), Abort());
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            "the pivot step s1 has started: the saga can only go forward now, it cannot be "
            "aborted");
  EXPECT_TRUE(saga.Apply(Abort()).history.empty());
  EXPECT_EQ(saga.state().status, SagaStatus::kRunning);

  SagaDriver failed = FailedSaga();
  EXPECT_EQ(CheckOperatorAction(LinearDefinition(3), failed.state(), Abort()).message(),
            "the saga is FAILED: only a RUNNING saga can be aborted");
}

TEST(OperatorAction, RetryRestartsFailedCompensationsWithAFreshBudget) {
  SagaDriver saga = FailedSaga();
  ASSERT_EQ(saga.state().status, SagaStatus::kFailed);
  Transition t = saga.Apply(Retry());
  EXPECT_EQ(HistoryTypes(t), (std::vector<std::string>{"operator_retry", "attempt_started"}));
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
  ExpectSingleCall(t, 1, Phase::kCompensation, 1);
  // The whole budget again: the first new attempt may fail and be retried.
  t = saga.Retryable(1, Phase::kCompensation, 1);
  ASSERT_EQ(Retries(t).size(), 1u);
  saga.Advance(milliseconds(10));
  saga.Apply(RetryDue{1, Phase::kCompensation});
  saga.Succeed(1, Phase::kCompensation, 2);
  saga.Succeed(0, Phase::kCompensation, 1);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
}

TEST(OperatorAction, RetryResumesAFailedAfterPivotStep) {
  SagaDefinition definition = LinearDefinition(3);
  definition.steps[1].pivot = true;
  definition.steps[2].after_pivot = true;
  SagaDriver saga(definition);
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  saga.Succeed(1, Phase::kAction, 1);
  saga.Fail(2, Phase::kAction, 1);
  ASSERT_EQ(saga.state().status, SagaStatus::kFailed);
  Transition t = saga.Apply(Retry());
  EXPECT_EQ(saga.state().status, SagaStatus::kRunning);
  ExpectSingleCall(t, 2, Phase::kAction, 1);
  saga.Succeed(2, Phase::kAction, 1);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompleted);
}

TEST(OperatorAction, RetryIsRefusedUnlessTheSagaFailed) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  EXPECT_EQ(CheckOperatorAction(LinearDefinition(2), saga.state(), Retry()).message(),
            "the saga is RUNNING: only a FAILED saga can be retried");
  EXPECT_TRUE(saga.Apply(Retry()).history.empty());
}

TEST(OperatorAction, SkipLetsAFailedSagaFinishCompensating) {
  SagaDriver saga = FailedSaga();
  Transition t = saga.Apply(SkipStep(1));
  EXPECT_EQ(t.history.front().type, "operator_skip");
  EXPECT_EQ(t.history.front().step, 1);
  EXPECT_EQ(saga.state().steps[1].status, StepStatus::kCompensated);
  EXPECT_EQ(saga.state().steps[1].error,
            "compensation skipped, undone by hand, ada: released the stock by hand");
  // s0's compensation was waiting for s1's: it goes now.
  ExpectSingleCall(t, 0, Phase::kCompensation, 1);
  saga.Succeed(0, Phase::kCompensation, 1);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
}

TEST(OperatorAction, SkipStopsACompensationStillBeingRetried) {
  SagaDriver saga(LinearDefinition(2));
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  saga.Fail(1, Phase::kAction, 1);
  saga.Retryable(0, Phase::kCompensation, 1);  // waiting to retry
  Transition t = saga.Apply(SkipStep(0));
  EXPECT_TRUE(Calls(t).empty());
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
  saga.Advance(milliseconds(10));
  EXPECT_TRUE(saga.Apply(RetryDue{0, Phase::kCompensation}).history.empty());
}

TEST(OperatorAction, SkipCompletesAFailedAfterPivotStepByHand) {
  SagaDefinition definition = LinearDefinition(3);
  definition.steps[1].pivot = true;
  definition.steps[2].after_pivot = true;
  SagaDriver saga(definition);
  saga.Apply(SagaResumed{});
  saga.Succeed(0, Phase::kAction, 1);
  saga.Succeed(1, Phase::kAction, 1);
  saga.Fail(2, Phase::kAction, 1);
  saga.Apply(SkipStep(2));
  EXPECT_EQ(saga.state().steps[2].status, StepStatus::kSucceeded);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompleted);
}

TEST(OperatorAction, SkipIsRefusedForAStepThatIsNotStuck) {
  SagaDriver saga = FailedSaga();
  const absl::Status refused = CheckOperatorAction(LinearDefinition(3), saga.state(), SkipStep(0));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            "step s0 is SUCCEEDED and the saga is FAILED: only a compensation that failed or is "
            "being retried, or an after-pivot step that failed, can be skipped");
  EXPECT_EQ(CheckOperatorAction(LinearDefinition(3), saga.state(), SkipStep(7)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(saga.Apply(SkipStep(0)).history.empty());
}

TEST(IdempotencyKey, IsStablePerSagaStepAndPhase) {
  EXPECT_EQ(IdempotencyKey("s-1", "charge", Phase::kAction), "s-1/charge/action");
  EXPECT_EQ(IdempotencyKey("s-1", "charge", Phase::kCompensation), "s-1/charge/compensation");
}

TEST(SagaStatusNames, RoundTrip) {
  for (SagaStatus s : {SagaStatus::kRunning, SagaStatus::kCompensating, SagaStatus::kCompleted,
                       SagaStatus::kCompensated, SagaStatus::kFailed}) {
    EXPECT_EQ(ParseSagaStatus(ToString(s)), s);
  }
  for (StepStatus s :
       {StepStatus::kPending, StepStatus::kRunning, StepStatus::kSucceeded, StepStatus::kFailed,
        StepStatus::kCompensating, StepStatus::kCompensated, StepStatus::kCompensationFailed}) {
    EXPECT_EQ(ParseStepStatus(ToString(s)), s);
  }
  EXPECT_EQ(ParseSagaStatus("running"), std::nullopt);
  EXPECT_EQ(ToString(StepStatus::kCompensationFailed), "COMPENSATION_FAILED");
}

}  // namespace
}  // namespace skald::core
