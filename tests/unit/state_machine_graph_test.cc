// The state machine on definitions with parallel steps, data flow, conditions, timeouts and
// a pivot.
#include <gtest/gtest.h>

#include "coordinator/core/definition_parser.h"
#include "coordinator/core/state_machine.h"

namespace skald::core {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

SagaDefinition Parse(const json& document) {
  auto parsed = ParseDefinition(document.dump());
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : SagaDefinition{};
}

json Step(const std::string& name, std::vector<std::string> after, bool compensation = true) {
  json step = {{"name", name}, {"participant", "h:1"}, {"action", "do"}, {"after", after}};
  if (compensation) step["compensation"] = "undo";
  step["retry"] = {{"max_attempts", 3}, {"initial_interval", "100ms"}, {"max_interval", "100ms"}};
  return step;
}

// Feeds events to one saga and keeps the calls it is asked to make.
class Saga {
 public:
  explicit Saga(const json& document, json input = json::object())
      : definition_(Parse(document)),
        state_(NewSagaState("saga-1", std::move(input), definition_.steps.size())) {}

  Transition Apply(const Event& event) {
    Transition t = Decide(definition_, state_, event, now_);
    state_ = t.state;
    for (const Command& c : t.commands) {
      if (auto* call = std::get_if<CallParticipant>(&c)) calls_.push_back(*call);
      if (auto* deadline = std::get_if<ScheduleDeadline>(&c)) deadlines_.push_back(*deadline);
    }
    return t;
  }
  Transition Succeed(const std::string& step, json output = json::object()) {
    const int i = Index(step);
    const bool compensating = state_.steps[i].status == StepStatus::kCompensating;
    return Apply(AttemptFinished{
        i, compensating ? Phase::kCompensation : Phase::kAction,
        compensating ? state_.steps[i].compensation_attempts : state_.steps[i].attempts,
        AttemptOutcome::kSuccess, std::move(output)});
  }
  Transition Fail(const std::string& step, AttemptOutcome outcome = AttemptOutcome::kFailure,
                  std::string code = "refused") {
    const int i = Index(step);
    return Apply(AttemptFinished{i, Phase::kAction, state_.steps[i].attempts, outcome, nullptr,
                                 code + ": no", code});
  }

  // Names of the steps called since the last call to this, in order, as "name" for actions
  // and "~name" for compensations.
  std::vector<std::string> TakeCalls() {
    std::vector<std::string> names;
    for (const CallParticipant& c : calls_) {
      names.push_back((c.phase == Phase::kCompensation ? "~" : "") +
                      definition_.steps[c.step].name);
    }
    calls_.clear();
    return names;
  }

  int Index(const std::string& step) const { return *definition_.StepIndex(step); }
  const StepState& step(const std::string& name) const { return state_.steps[Index(name)]; }
  const SagaState& state() const { return state_; }
  const std::vector<ScheduleDeadline>& deadlines() const { return deadlines_; }
  void Advance(milliseconds by) { now_ += by; }
  TimePoint now() const { return now_; }

 private:
  SagaDefinition definition_;
  SagaState state_;
  TimePoint now_ = TimePoint(std::chrono::seconds(1'700'000'000));
  std::vector<CallParticipant> calls_;
  std::vector<ScheduleDeadline> deadlines_;
};

json Diamond() {
  return {{"name", "diamond"},
          {"version", 1},
          {"steps", {Step("a", {}), Step("b", {"a"}), Step("c", {"a"}), Step("d", {"b", "c"})}}};
}

TEST(ParallelSteps, IndependentStepsStartTogetherAndAJoinWaitsForBoth) {
  Saga saga(Diamond());
  saga.Apply(SagaResumed{});
  EXPECT_EQ(saga.TakeCalls(), std::vector<std::string>{"a"});
  saga.Succeed("a");
  EXPECT_EQ(saga.TakeCalls(), (std::vector<std::string>{"b", "c"}));
  saga.Succeed("c");
  EXPECT_TRUE(saga.TakeCalls().empty()) << "d waits for b too";
  saga.Succeed("b");
  EXPECT_EQ(saga.TakeCalls(), std::vector<std::string>{"d"});
  saga.Succeed("d");
  EXPECT_EQ(saga.state().status, SagaStatus::kCompleted);
}

TEST(ParallelSteps, CompensationRunsInReverseDependencyOrderAndConcurrently) {
  Saga saga(Diamond());
  saga.Apply(SagaResumed{});
  saga.Succeed("a");
  saga.Succeed("b");
  saga.Succeed("c");
  saga.TakeCalls();
  saga.Fail("d");
  EXPECT_EQ(saga.TakeCalls(), (std::vector<std::string>{"~c", "~b"})) << "both at once";
  saga.Succeed("b");
  EXPECT_TRUE(saga.TakeCalls().empty()) << "a waits until c is undone too";
  saga.Succeed("c");
  EXPECT_EQ(saga.TakeCalls(), std::vector<std::string>{"~a"});
  saga.Succeed("a");
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
}

TEST(ParallelSteps, AFailureWaitsForItsSiblingInFlightThenCompensatesIt) {
  Saga saga(Diamond());
  saga.Apply(SagaResumed{});
  saga.Succeed("a");
  saga.TakeCalls();
  saga.Fail("b");
  EXPECT_TRUE(saga.TakeCalls().empty()) << "c is still running: a cannot be undone yet";
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
  saga.Succeed("c");
  EXPECT_EQ(saga.TakeCalls(), std::vector<std::string>{"~c"});
  saga.Succeed("c");
  EXPECT_EQ(saga.TakeCalls(), std::vector<std::string>{"~a"});
  saga.Succeed("a");
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
  EXPECT_EQ(saga.step("d").status, StepStatus::kPending);
}

TEST(DataFlow, AStepReceivesTheSagaInputAndItsAncestorsOutputsWithTheirTypes) {
  json document = {
      {"name", "flow"},
      {"version", 1},
      {"steps", {Step("create", {}), Step("charge", {"create"})}},
      {"output",
       {{"charge", "${steps.charge.output}"}, {"missing", "${steps.create.output}/nope"}}}};
  document["steps"][1]["input"] = {{"order", "${steps.create.output}/order"},
                                   {"amount", "${input}/amount"},
                                   {"literal", "$${input}"},
                                   {"all", "${input}"}};
  Saga saga(document, {{"amount", 12.5}});
  saga.Apply(SagaResumed{});
  EXPECT_EQ(saga.step("create").input, (json{{"amount", 12.5}})) << "no template: the input";
  saga.Succeed("create", {{"order", {{"id", 7}}}});
  EXPECT_EQ(saga.step("charge").input, (json{{"order", {{"id", 7}}},
                                             {"amount", 12.5},
                                             {"literal", "${input}"},
                                             {"all", {{"amount", 12.5}}}}));
  saga.Succeed("charge", {{"charge_id", "c-1"}});
  EXPECT_EQ(saga.state().status, SagaStatus::kCompleted);
  EXPECT_EQ(saga.state().output, (json{{"charge", {{"charge_id", "c-1"}}}, {"missing", nullptr}}));
}

TEST(DataFlow, AnUnresolvableInputFailsTheStepWithoutCallingIt) {
  json document = {{"name", "flow"},
                   {"version", 1},
                   {"steps", {Step("create", {}), Step("charge", {"create"})}}};
  document["steps"][1]["input"] = {{"id", "${steps.create.output}/id"}};
  Saga saga(document);
  saga.Apply(SagaResumed{});
  saga.Succeed("create", {{"other", 1}});
  EXPECT_EQ(saga.TakeCalls(), (std::vector<std::string>{"create", "~create"}));
  EXPECT_EQ(saga.step("charge").status, StepStatus::kFailed);
  EXPECT_EQ(saga.step("charge").attempts, 0);
  EXPECT_EQ(saga.step("charge").error,
            "unresolved_input: \"${steps.create.output}/id\" has no value");
}

TEST(Conditions, AFalseConditionSkipsTheStepAndItsDependentsProceed) {
  json document = {{"name", "cond"},
                   {"version", 1},
                   {"steps", {Step("a", {}), Step("b", {"a"}), Step("c", {"b"})}}};
  document["steps"][1]["when"] = {{"value", "${input}/amount"}, {"gt", 100}};
  Saga saga(document, {{"amount", 50}});
  saga.Apply(SagaResumed{});
  saga.Succeed("a");
  EXPECT_EQ(saga.step("b").status, StepStatus::kSkipped);
  EXPECT_EQ(saga.TakeCalls(), (std::vector<std::string>{"a", "c"}));
  saga.Fail("c");
  EXPECT_EQ(saga.TakeCalls(), std::vector<std::string>{"~a"}) << "skipped b is not undone";
  saga.Succeed("a");
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
  EXPECT_EQ(saga.step("b").status, StepStatus::kSkipped);
}

struct ConditionCase {
  json when;
  bool runs;
};

class ConditionOperators : public ::testing::TestWithParam<ConditionCase> {};

TEST_P(ConditionOperators, DecideWhetherTheStepRuns) {
  json document = {{"name", "cond"}, {"version", 1}, {"steps", {Step("a", {})}}};
  document["steps"][0]["when"] = GetParam().when;
  Saga saga(document, {{"n", 5}, {"s", "x"}, {"o", {{"k", true}}}});
  saga.Apply(SagaResumed{});
  EXPECT_EQ(saga.step("a").status, GetParam().runs ? StepStatus::kRunning : StepStatus::kSkipped)
      << GetParam().when.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Each, ConditionOperators,
    ::testing::Values(ConditionCase{{{"value", "${input}/n"}, {"equals", 5}}, true},
                      ConditionCase{{{"value", "${input}/n"}, {"equals", 6}}, false},
                      ConditionCase{{{"value", "${input}/s"}, {"equals", "x"}}, true},
                      ConditionCase{{{"value", "${input}/o"}, {"equals", {{"k", true}}}}, true},
                      ConditionCase{{{"value", "${input}/zz"}, {"equals", nullptr}}, false},
                      ConditionCase{{{"value", "${input}/n"}, {"not_equals", 5}}, false},
                      ConditionCase{{{"value", "${input}/zz"}, {"not_equals", 5}}, true},
                      ConditionCase{{{"value", "${input}/o/k"}, {"exists", true}}, true},
                      ConditionCase{{{"value", "${input}/zz"}, {"exists", true}}, false},
                      ConditionCase{{{"value", "${input}/zz"}, {"exists", false}}, true},
                      ConditionCase{{{"value", "${input}/n"}, {"gt", 5}}, false},
                      ConditionCase{{{"value", "${input}/n"}, {"gte", 5}}, true},
                      ConditionCase{{{"value", "${input}/n"}, {"lt", 5.5}}, true},
                      ConditionCase{{{"value", "${input}/n"}, {"lte", 4}}, false},
                      ConditionCase{{{"value", "${input}/s"}, {"gt", 0}}, false}));

TEST(Retries, NonRetryableCodesEndTheStepAtOnce) {
  json document = {{"name", "r"}, {"version", 1}, {"steps", {Step("a", {}), Step("b", {"a"})}}};
  document["steps"][1]["retry"]["non_retryable_errors"] = {"card_expired"};
  Saga saga(document);
  saga.Apply(SagaResumed{});
  saga.Succeed("a");
  saga.Fail("b", AttemptOutcome::kRetryableError, "gateway_busy");
  EXPECT_TRUE(saga.step("b").retry_at.has_value()) << "other codes are retried";
  saga.Advance(milliseconds(100));
  saga.Apply(RetryDue{1, Phase::kAction});
  saga.Fail("b", AttemptOutcome::kRetryableError, "card_expired");
  EXPECT_EQ(saga.step("b").status, StepStatus::kFailed);
  EXPECT_FALSE(saga.step("b").outcome_unknown);
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
}

TEST(Retries, JitterShortensTheWaitReproducibly) {
  json document = {{"name", "r"}, {"version", 1}, {"steps", {Step("a", {})}}};
  document["steps"][0]["retry"] = {
      {"max_attempts", 5}, {"initial_interval", "1s"}, {"max_interval", "1s"}, {"jitter", 0.5}};
  Saga first(document), second(document);
  for (Saga* saga : {&first, &second}) {
    saga->Apply(SagaResumed{});
    saga->Fail("a", AttemptOutcome::kRetryableError, "busy");
  }
  const auto wait = *first.step("a").retry_at - first.now();
  EXPECT_GE(wait, milliseconds(500));
  EXPECT_LE(wait, milliseconds(1000));
  EXPECT_EQ(first.step("a").retry_at, second.step("a").retry_at);
}

TEST(Timeouts, AStepTimeoutFailsTheStepAndCompensates) {
  json document = {{"name", "t"}, {"version", 1}, {"steps", {Step("a", {}), Step("b", {"a"})}}};
  document["steps"][1]["step_timeout"] = "2s";
  Saga saga(document);
  saga.Apply(SagaResumed{});
  saga.Succeed("a");
  ASSERT_EQ(saga.deadlines().size(), 1u);
  EXPECT_EQ(saga.deadlines()[0].step, 1);
  EXPECT_EQ(saga.deadlines()[0].at, saga.now() + milliseconds(2000));
  saga.Advance(milliseconds(1000));
  saga.Apply(DeadlinePassed{1});
  EXPECT_EQ(saga.step("b").status, StepStatus::kRunning) << "early: re-armed";
  saga.Advance(milliseconds(1000));
  saga.TakeCalls();
  saga.Apply(DeadlinePassed{1});
  EXPECT_EQ(saga.step("b").status, StepStatus::kCompensating) << "unknown outcome: undone";
  EXPECT_EQ(saga.step("b").error, "step_timeout of 2s passed after 1 attempt");
  EXPECT_EQ(saga.TakeCalls(), std::vector<std::string>{"~b"});
}

TEST(Timeouts, TheSagaTimeoutCompensatesEverythingInProgress) {
  json document = {{"name", "t"}, {"version", 1}, {"timeout", "1m"}, {"steps", Diamond()["steps"]}};
  Saga saga(document);
  saga.Apply(SagaResumed{});
  ASSERT_TRUE(saga.state().deadline.has_value());
  saga.Succeed("a");
  saga.Succeed("b");
  saga.TakeCalls();
  saga.Advance(std::chrono::minutes(1));
  saga.Apply(DeadlinePassed{});
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensating);
  EXPECT_EQ(saga.state().error,
            "step c failed: saga timeout of 1m passed while the step was in "
            "progress");
  EXPECT_EQ(saga.TakeCalls(), (std::vector<std::string>{"~c", "~b"}));
}

TEST(Timeouts, ResumingRearmsStoredDeadlines) {
  json document = {{"name", "t"}, {"version", 1}, {"timeout", "1m"}, {"steps", {Step("a", {})}}};
  document["steps"][0]["step_timeout"] = "5s";
  Saga saga(document);
  saga.Apply(SagaResumed{});
  const TimePoint saga_deadline = *saga.state().deadline;
  const TimePoint step_deadline = *saga.step("a").deadline;
  saga.Advance(milliseconds(10));
  saga.Apply(SagaResumed{});
  EXPECT_EQ(*saga.state().deadline, saga_deadline) << "not pushed back by a restart";
  ASSERT_GE(saga.deadlines().size(), 4u);
  EXPECT_EQ(saga.deadlines()[2].step, std::nullopt);
  EXPECT_EQ(saga.deadlines()[2].at, saga_deadline);
  EXPECT_EQ(saga.deadlines()[3].step, 0);
  EXPECT_EQ(saga.deadlines()[3].at, step_deadline);
}

json Pivoted() {
  json document = {{"name", "p"},
                   {"version", 1},
                   {"timeout", "1m"},
                   {"steps",
                    {Step("reserve", {}), Step("confirm", {"reserve"}, false),
                     Step("notify", {"confirm"}, false)}}};
  document["steps"][1]["pivot"] = true;
  return document;
}

TEST(Pivot, AfterThePivotTheSagaOnlyGoesForward) {
  Saga saga(Pivoted());
  saga.Apply(SagaResumed{});
  saga.Succeed("reserve");
  saga.Succeed("confirm");
  for (int attempt = 1; attempt <= 10; ++attempt) {
    saga.Fail("notify", AttemptOutcome::kRetryableError, "down");
    ASSERT_TRUE(saga.step("notify").retry_at.has_value()) << "attempt " << attempt;
    saga.Advance(milliseconds(100));
    saga.Apply(RetryDue{2, Phase::kAction});
  }
  EXPECT_EQ(saga.step("notify").attempts, 11) << "max_attempts 3 does not apply";
  saga.Advance(std::chrono::minutes(2));
  saga.Apply(DeadlinePassed{});
  EXPECT_EQ(saga.state().status, SagaStatus::kRunning) << "the saga timeout no longer applies";
  saga.Succeed("notify");
  EXPECT_EQ(saga.state().status, SagaStatus::kCompleted);
  EXPECT_EQ(saga.step("reserve").compensation_attempts, 0);
}

TEST(Pivot, ABusinessFailureOfThePivotCompensatesWhatCameBefore) {
  Saga saga(Pivoted());
  saga.Apply(SagaResumed{});
  saga.Succeed("reserve");
  saga.TakeCalls();
  saga.Fail("confirm");
  EXPECT_EQ(saga.TakeCalls(), std::vector<std::string>{"~reserve"});
  saga.Succeed("reserve");
  EXPECT_EQ(saga.state().status, SagaStatus::kCompensated);
}

TEST(Pivot, ABusinessFailureAfterThePivotNeedsAnOperator) {
  Saga saga(Pivoted());
  saga.Apply(SagaResumed{});
  saga.Succeed("reserve");
  saga.Succeed("confirm");
  saga.TakeCalls();
  saga.Fail("notify");
  EXPECT_EQ(saga.state().status, SagaStatus::kFailed);
  EXPECT_TRUE(saga.TakeCalls().empty()) << "nothing is compensated";
  EXPECT_EQ(saga.state().error,
            "step notify failed after the pivot, where the saga can only go forward: refused: "
            "no");
}

}  // namespace
}  // namespace skald::core
