// Long-running steps in the pure state machine: an attempt accepted by its participant
// waits for its completion, its heartbeats and its deadlines (issue 17).
#include <gtest/gtest.h>

#include "coordinator/core/completion_token.h"
#include "coordinator/core/definition_parser.h"
#include "coordinator/core/simulation.h"
#include "coordinator/core/state_machine.h"
#include "tests/unit/make_policy.h"

namespace skald::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Two steps, s0 then s1, each with a compensation; s0 may wait 10 s for its completion
// with a heartbeat every 2 s, and is tried at most twice.
SagaDefinition WaitingDefinition() {
  SagaDefinition definition;
  definition.name = "waiting";
  definition.version = 1;
  for (int i = 0; i < 2; ++i) {
    StepDefinition step;
    step.name = "s" + std::to_string(i);
    step.participant = "127.0.0.1:1";
    step.action = "do";
    step.compensation = "undo";
    step.retry = MakePolicy(2, milliseconds(100), 1.0, milliseconds(100));
    step.compensation_retry = MakePolicy(2, milliseconds(10), 1.0, milliseconds(10));
    step.completion_timeout = seconds(10);
    if (i == 0) step.heartbeat_timeout = seconds(2);
    if (i > 0) step.after = {i - 1};
    definition.steps.push_back(step);
  }
  return definition;
}

// A saga of waiting steps fed event by event.
class WaitingSaga {
 public:
  explicit WaitingSaga(SagaDefinition definition = WaitingDefinition())
      : definition_(std::move(definition)),
        state_(NewSagaState("saga-1", {{"k", 1}}, definition_.steps.size())) {}

  Transition Apply(const Event& event) {
    Transition t = Decide(definition_, state_, event, now_);
    state_ = t.state;
    return t;
  }
  Transition Accept(int step, Phase phase, int attempt) {
    return Apply(AttemptFinished{step, phase, attempt, AttemptOutcome::kAccepted, nullptr, ""});
  }
  static StepCompleted Completion(int step, Phase phase, int attempt, AttemptOutcome outcome,
                                  nlohmann::json output = nullptr, std::string error = "") {
    return StepCompleted{
        AttemptFinished{step, phase, attempt, outcome, std::move(output), std::move(error), ""}};
  }
  absl::Status Check(const StepCompleted& completion) const {
    return CheckCompletion(definition_, state_, completion, now_);
  }
  void Advance(milliseconds by) { now_ += by; }
  const SagaState& state() const { return state_; }
  const StepState& step(int i) const { return state_.steps[i]; }
  TimePoint now() const { return now_; }
  const SagaDefinition& definition() const { return definition_; }

 private:
  SagaDefinition definition_;
  SagaState state_;
  TimePoint now_ = TimePoint(seconds(1'700'000'000));
};

std::vector<std::string> RecordedHistoryTypes(const Transition& t) {
  std::vector<std::string> types;
  for (const HistoryEntry& e : t.history) types.push_back(e.type);
  return types;
}

template <typename T>
std::vector<T> Commands(const Transition& t) {
  std::vector<T> found;
  for (const Command& c : t.commands) {
    if (auto* command = std::get_if<T>(&c)) found.push_back(*command);
  }
  return found;
}

TEST(LongRunningStep, AnAcceptedAttemptWaitsWithItsDeadlinesAndNoCall) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  Transition t = saga.Accept(0, Phase::kAction, 1);
  ASSERT_TRUE(saga.step(0).waiting);
  EXPECT_EQ(saga.step(0).status, StepStatus::kRunning);
  EXPECT_EQ(ShownStatus(saga.step(0)), "WAITING");
  EXPECT_EQ(saga.step(0).waiting->since, saga.now());
  EXPECT_EQ(saga.step(0).waiting->deadline, saga.now() + seconds(10));
  EXPECT_EQ(saga.step(0).waiting->heartbeat_deadline, saga.now() + seconds(2));
  EXPECT_TRUE(Commands<CallParticipant>(t).empty());
  auto timers = Commands<ScheduleWaitTimeout>(t);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].at, saga.now() + seconds(2));  // The earlier of the two deadlines.
  EXPECT_EQ(timers[0].attempt, 1);
  EXPECT_EQ(RecordedHistoryTypes(t), std::vector<std::string>{"attempt_accepted"});
  // The next step does not start while this one waits.
  EXPECT_EQ(saga.step(1).status, StepStatus::kPending);
}

TEST(LongRunningStep, ASuccessfulCompletionIsDecidedLikeASuccessfulReply) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  saga.Accept(0, Phase::kAction, 1);
  saga.Advance(seconds(1));
  auto completion =
      WaitingSaga::Completion(0, Phase::kAction, 1, AttemptOutcome::kSuccess, {{"ok", 1}});
  ASSERT_TRUE(saga.Check(completion).ok());
  Transition t = saga.Apply(completion);
  EXPECT_EQ(saga.step(0).status, StepStatus::kSucceeded);
  EXPECT_EQ(saga.step(0).output, (nlohmann::json{{"ok", 1}}));
  EXPECT_FALSE(saga.step(0).waiting);
  EXPECT_EQ(Commands<CallParticipant>(t).size(), 1u);  // s1 starts.
  EXPECT_EQ(
      RecordedHistoryTypes(t),
      (std::vector<std::string>{"completion_received", "attempt_succeeded", "attempt_started"}));
  // The same completion again: a no-op, recognised as such.
  EXPECT_TRUE(absl::IsAlreadyExists(saga.Check(completion))) << saga.Check(completion);
  EXPECT_TRUE(saga.Apply(completion).history.empty());
  // Another result for the same attempt: refused.
  auto other =
      WaitingSaga::Completion(0, Phase::kAction, 1, AttemptOutcome::kFailure, nullptr, "no");
  absl::Status refused = saga.Check(other);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_NE(refused.message().find("already completed with another result (success)"),
            std::string_view::npos)
      << refused;
}

TEST(LongRunningStep, AFailedCompletionCompensatesWhatCameBefore) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  saga.Apply(AttemptFinished{0, Phase::kAction, 1, AttemptOutcome::kSuccess, {{"a", 1}}, ""});
  saga.Accept(1, Phase::kAction, 1);
  Transition t = saga.Apply(
      WaitingSaga::Completion(1, Phase::kAction, 1, AttemptOutcome::kFailure, nullptr, "refused"));
  EXPECT_EQ(saga.step(1).status, StepStatus::kFailed);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
  auto calls = Commands<CallParticipant>(t);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].step, 0);
  EXPECT_EQ(calls[0].phase, Phase::kCompensation);
}

TEST(LongRunningStep, ARetryableCompletionIsAFailedAttemptRetriedWithANewAttempt) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  saga.Accept(0, Phase::kAction, 1);
  Transition t = saga.Apply(WaitingSaga::Completion(
      0, Phase::kAction, 1, AttemptOutcome::kRetryableError, nullptr, "busy"));
  ASSERT_EQ(Commands<ScheduleRetry>(t).size(), 1u);
  saga.Advance(milliseconds(100));
  t = saga.Apply(RetryDue{0, Phase::kAction});
  ASSERT_EQ(Commands<CallParticipant>(t).size(), 1u);
  EXPECT_EQ(Commands<CallParticipant>(t)[0].attempt, 2);
  // The first attempt's token is stale now.
  absl::Status stale = saga.Check(
      WaitingSaga::Completion(0, Phase::kAction, 1, AttemptOutcome::kSuccess, {{"x", 1}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(stale)) << stale;
  // Its repeat of the recorded (retryable) result is still recognised as a repeat.
  EXPECT_TRUE(absl::IsAlreadyExists(saga.Check(WaitingSaga::Completion(
      0, Phase::kAction, 1, AttemptOutcome::kRetryableError, nullptr, "busy"))));
}

TEST(LongRunningStep, ACompletionThatOvertakesTheAcceptanceIsTakenAndTheAcceptanceIgnored) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  auto completion =
      WaitingSaga::Completion(0, Phase::kAction, 1, AttemptOutcome::kSuccess, {{"v", 2}});
  ASSERT_TRUE(saga.Check(completion).ok());
  saga.Apply(completion);
  EXPECT_EQ(saga.step(0).status, StepStatus::kSucceeded);
  EXPECT_TRUE(saga.Accept(0, Phase::kAction, 1).history.empty());
  EXPECT_FALSE(saga.step(0).waiting);
  EXPECT_TRUE(absl::IsAlreadyExists(saga.Check(completion)));
}

TEST(LongRunningStep, NoCompletionBeforeTheDeadlineFailsTheAttemptAndRetriesThenCompensates) {
  SagaDefinition definition = WaitingDefinition();
  definition.steps[0].heartbeat_timeout.reset();
  WaitingSaga saga(definition);
  saga.Apply(SagaResumed{});
  saga.Accept(0, Phase::kAction, 1);
  saga.Advance(seconds(5));
  // Early: nothing happens (a heartbeat or the completion may still come).
  EXPECT_TRUE(saga.Apply(WaitTimedOut{0, Phase::kAction, 1}).history.empty());
  saga.Advance(seconds(5));
  Transition t = saga.Apply(WaitTimedOut{0, Phase::kAction, 1});
  EXPECT_FALSE(saga.step(0).waiting);
  ASSERT_EQ(Commands<ScheduleRetry>(t).size(), 1u);
  EXPECT_NE(saga.step(0).error.find("no completion within completion_timeout of 10s"),
            std::string::npos)
      << saga.step(0).error;
  // A completion now is refused: the deadline passed.
  absl::Status late = saga.Check(
      WaitingSaga::Completion(0, Phase::kAction, 1, AttemptOutcome::kSuccess, {{"x", 1}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(late)) << late;
  EXPECT_NE(late.message().find("past its deadline"), std::string_view::npos) << late;
  // Second (last) attempt: accepted, never completed.
  saga.Advance(milliseconds(100));
  saga.Apply(RetryDue{0, Phase::kAction});
  saga.Accept(0, Phase::kAction, 2);
  saga.Advance(seconds(10));
  t = saga.Apply(WaitTimedOut{0, Phase::kAction, 2});
  EXPECT_EQ(saga.step(0).status, StepStatus::kCompensating);  // Outcome unknown: undone.
  EXPECT_TRUE(saga.step(0).outcome_unknown);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
  auto calls = Commands<CallParticipant>(t);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].phase, Phase::kCompensation);
}

TEST(LongRunningStep, HeartbeatsKeepTheAttemptAlivePastItsHeartbeatTimeout) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  saga.Accept(0, Phase::kAction, 1);
  for (int i = 0; i < 4; ++i) {
    saga.Advance(milliseconds(1500));
    HeartbeatReceived beat{0, Phase::kAction, 1, {{"done", i}}};
    ASSERT_TRUE(CheckHeartbeat(saga.definition(), saga.state(), beat, saga.now()).ok());
    Transition t = saga.Apply(beat);
    EXPECT_TRUE(t.history.empty());  // Heartbeats do not fill the history.
    ASSERT_EQ(Commands<ScheduleWaitTimeout>(t).size(), 1u);
    EXPECT_EQ(Commands<ScheduleWaitTimeout>(t)[0].at, saga.now() + seconds(2));
    // The timer armed before this heartbeat fires early and changes nothing.
    EXPECT_TRUE(saga.Apply(WaitTimedOut{0, Phase::kAction, 1}).history.empty());
  }
  ASSERT_TRUE(saga.step(0).waiting);
  EXPECT_EQ(saga.step(0).waiting->last_heartbeat, saga.now());
  EXPECT_EQ(saga.step(0).waiting->heartbeat_details, (nlohmann::json{{"done", 3}}));
  // 6 s after the acceptance, past three heartbeat timeouts: still waiting. Then silence.
  saga.Advance(seconds(2));
  Transition t = saga.Apply(WaitTimedOut{0, Phase::kAction, 1});
  EXPECT_FALSE(saga.step(0).waiting);
  EXPECT_EQ(Commands<ScheduleRetry>(t).size(), 1u);
  EXPECT_NE(saga.step(0).error.find("no heartbeat within heartbeat_timeout of 2s"),
            std::string::npos)
      << saga.step(0).error;
  absl::Status late = CheckHeartbeat(saga.definition(), saga.state(),
                                     HeartbeatReceived{0, Phase::kAction, 1, nullptr}, saga.now());
  EXPECT_TRUE(absl::IsFailedPrecondition(late)) << late;
}

TEST(LongRunningStep, ATakeOverReArmsTheWaitInsteadOfResendingTheCall) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  saga.Accept(0, Phase::kAction, 1);
  Transition t = saga.Apply(SagaResumed{});
  EXPECT_TRUE(Commands<CallParticipant>(t).empty());
  auto timers = Commands<ScheduleWaitTimeout>(t);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].at, saga.step(0).waiting->due());
}

TEST(LongRunningStep, AnAbortEndsTheWaitAndCompensatesTheWaitingStep) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  saga.Accept(0, Phase::kAction, 1);
  OperatorAction abort{OperatorAction::Kind::kAbort, std::nullopt, "ada", "test"};
  Transition t = saga.Apply(abort);
  EXPECT_FALSE(saga.step(0).waiting);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
  absl::Status after = saga.Check(
      WaitingSaga::Completion(0, Phase::kAction, 1, AttemptOutcome::kSuccess, {{"x", 1}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(after)) << after;
}

TEST(LongRunningStep, AnAcceptedCompensationWaitsAsCompensationWaiting) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  saga.Apply(AttemptFinished{0, Phase::kAction, 1, AttemptOutcome::kSuccess, {{"a", 1}}, ""});
  saga.Apply(AttemptFinished{1, Phase::kAction, 1, AttemptOutcome::kFailure, nullptr, "no"});
  ASSERT_EQ(saga.step(0).status, StepStatus::kCompensating);
  saga.Accept(0, Phase::kCompensation, 1);
  EXPECT_EQ(ShownStatus(saga.step(0)), "COMPENSATION_WAITING");
  saga.Apply(WaitingSaga::Completion(0, Phase::kCompensation, 1, AttemptOutcome::kSuccess));
  EXPECT_EQ(saga.step(0).status, StepStatus::kCompensated);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
}

TEST(LongRunningStep, AnOperatorResolvesAWaitingStepOnly) {
  WaitingSaga saga;
  saga.Apply(SagaResumed{});
  OperatorAction resolve{OperatorAction::Kind::kResolve, 0, "ada", "approved by phone"};
  resolve.resolution.outcome = AttemptOutcome::kSuccess;
  resolve.resolution.output = {{"approved", true}};
  absl::Status not_waiting = CheckOperatorAction(saga.definition(), saga.state(), resolve);
  EXPECT_TRUE(absl::IsFailedPrecondition(not_waiting)) << not_waiting;
  saga.Accept(0, Phase::kAction, 1);
  ASSERT_TRUE(CheckOperatorAction(saga.definition(), saga.state(), resolve).ok());
  Transition t = saga.Apply(resolve);
  EXPECT_EQ(saga.step(0).status, StepStatus::kSucceeded);
  EXPECT_EQ(saga.step(0).output, (nlohmann::json{{"approved", true}}));
  ASSERT_FALSE(t.history.empty());
  EXPECT_EQ(t.history[0].type, "operator_resolve");
  EXPECT_EQ(t.history[0].detail["operator"], "ada");
  // The participant's completion afterwards: another result, refused.
  absl::Status late = saga.Check(
      WaitingSaga::Completion(0, Phase::kAction, 1, AttemptOutcome::kSuccess, {{"x", 1}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(late)) << late;
  EXPECT_NE(late.message().find("resolved by an operator"), std::string_view::npos) << late;
}

TEST(LongRunningStep, WaitingStateSurvivesItsStoredForm) {
  WaitingStep waiting;
  waiting.since = TimePoint(milliseconds(1'700'000'000'123));
  waiting.deadline = waiting.since + seconds(10);
  waiting.heartbeat_deadline = waiting.since + seconds(2);
  waiting.last_heartbeat = waiting.since + seconds(1);
  waiting.heartbeat_details = {{"p", 0.5}};
  EXPECT_EQ(WaitingFromJson(WaitingToJson(waiting)), waiting);
  EXPECT_FALSE(WaitingFromJson(nullptr));
  EXPECT_FALSE(WaitingFromJson({{"since_ms", "x"}}));
  ClosedWait closed{Phase::kCompensation, 3, ClosedWait::How::kHeartbeat, nullptr,
                    waiting.deadline};
  EXPECT_EQ(ClosedWaitFromJson(ClosedWaitToJson(closed)), closed);
}

TEST(LongRunningStep, DefinitionsReadAndCheckTheTimeouts) {
  auto parsed = ParseDefinition(R"({"name": "w", "version": 1,
      "defaults": {"completion_timeout": "1h"},
      "steps": [{"name": "a", "participant": "h:1", "action": "x", "heartbeat_timeout": "30s"},
                {"name": "b", "participant": "h:1", "action": "x", "completion_timeout": "5m"}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->steps[0].completion_timeout, std::chrono::hours(1));
  EXPECT_EQ(parsed->steps[0].heartbeat_timeout, seconds(30));
  EXPECT_EQ(parsed->steps[1].completion_timeout, std::chrono::minutes(5));
  EXPECT_FALSE(parsed->steps[1].heartbeat_timeout);
  auto defaulted = ParseDefinition(
      R"({"name": "w", "version": 1, "steps": [{"name": "a", "participant": "h:1", "action": "x"}]})");
  ASSERT_TRUE(defaulted.ok());
  EXPECT_EQ(defaulted->steps[0].completion_timeout, kDefaultCompletionTimeout);
  auto bad = ParseDefinition(R"({"name": "w", "version": 1, "steps": [{"name": "a",
      "participant": "h:1", "action": "x", "completion_timeout": "1m",
      "heartbeat_timeout": "2m"}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(
                "steps[0].heartbeat_timeout: must not be longer than completion_timeout"),
            std::string_view::npos)
      << bad.status();
}

TEST(LongRunningStep, SimulationStagesAWaitThatRunsOut) {
  SagaDefinition definition = WaitingDefinition();
  // Only s0 may be accepted: s1 keeps the default completion_timeout.
  definition.steps[1].completion_timeout = kDefaultCompletionTimeout;
  std::vector<ScenarioResult> scenarios = Simulate(definition);
  const ScenarioResult* waited = nullptr;
  for (const ScenarioResult& scenario : scenarios) {
    if (scenario.kind == ScenarioKind::kCompletionTimeout) {
      EXPECT_FALSE(waited) << "one step declares the timeouts; one scenario";
      waited = &scenario;
    }
  }
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->step, 0);
  EXPECT_EQ(ToString(waited->kind), "completion_timeout");
  // Both attempts accepted and left to time out (heartbeat_timeout 2 s), then undone.
  EXPECT_EQ(waited->final_state.status, SagaStatus::kCompensated);
  EXPECT_EQ(waited->actions.size(), 2u);
  ASSERT_EQ(waited->compensations.size(), 1u);
  EXPECT_EQ(waited->compensations[0], Wave{0});
  EXPECT_FALSE(waited->notes.empty());
}

TEST(CompletionToken, ClaimsSurviveTheTokenShape) {
  CompletionClaims claims{"saga-\xc3\xa9/1", 3, Phase::kCompensation, 12};
  const std::string token =
      AssembleCompletionToken(CompletionPayload(claims), std::string(kCompletionMacBytes, 'm'));
  auto parts = SplitCompletionToken(token);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->mac, std::string(kCompletionMacBytes, 'm'));
  auto read = ParseCompletionPayload(parts->payload);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, claims);
}

TEST(CompletionToken, MalformedTokensAreUnknownWithoutEchoingThem) {
  const std::string good = AssembleCompletionToken(CompletionPayload({"s", 0, Phase::kAction, 1}),
                                                   std::string(kCompletionMacBytes, 'm'));
  for (const std::string& token :
       {std::string(), std::string("skc1."), good.substr(0, good.size() - 2),
        "skc2" + good.substr(4), good + "!", std::string(kMaxCompletionTokenBytes + 1, 'a'),
        good.substr(0, good.find('.', 5)) + ".AAAA"}) {
    auto parts = SplitCompletionToken(token);
    ASSERT_FALSE(parts.ok()) << token;
    EXPECT_TRUE(absl::IsNotFound(parts.status()));
    EXPECT_EQ(parts.status().message(), "unknown or forged completion token");
  }
  for (const std::string payload : {"s\n0\na", "s\n0\nx\n1", "s\n-1\na\n1", "s\n0\na\n0",
                                    "\n0\na\n1", "s\n0\na\n1\n", "s\n0\na\n1x"}) {
    EXPECT_TRUE(absl::IsNotFound(ParseCompletionPayload(payload).status())) << payload;
  }
}

}  // namespace
}  // namespace skald::core
