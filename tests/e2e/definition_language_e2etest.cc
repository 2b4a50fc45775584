// The definition language (docs/definitions.md) end to end: a real coordinator runs
// definitions against test-participant processes, and every test checks the saga's final
// state *and* the participant calls recorded in testp.calls (who was called, when, with what).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "tests/e2e/saga_harness.h"

namespace skald::testing {
namespace {

using nlohmann::json;

// How much earlier than the participant recorded a call the coordinator may have sent it,
// and so started counting its deadlines.
constexpr long long kSlackMs = 50;

// Milliseconds from `from` to `to`.
long long Ms(absl::Time from, absl::Time to) { return absl::ToInt64Milliseconds(to - from); }

// When the call finished; the infinite future while it runs.
absl::Time End(const RecordedCall& call) { return call.finished.value_or(absl::InfiniteFuture()); }

bool Overlap(const RecordedCall& a, const RecordedCall& b) {
  return a.finished && b.finished && a.started < End(b) && b.started < End(a);
}

class DefinitionLanguageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = SagaHarness::Start(/*participants=*/2);
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
  }

  // Applies `definition` (participants named "p0", "p1"), runs one saga of it with `input`
  // to its end, and loads its recorded calls into calls_.
  void Run(const json& definition, const json& input, bool apply = true,
           absl::Duration timeout = absl::Seconds(15)) {
    if (apply) {
      const absl::Status applied = harness_->Apply(definition);
      ASSERT_TRUE(applied.ok()) << applied;
    }
    auto saga = harness_->Run(definition["name"], input, timeout);
    ASSERT_TRUE(saga.ok()) << saga.status() << "\n" << harness_->Logs();
    saga_ = *saga;
    auto calls = harness_->Calls(saga_.id());
    ASSERT_TRUE(calls.ok()) << calls.status();
    calls_ = std::move(*calls);
  }

  std::vector<RecordedCall> Calls(const std::string& step, const std::string& phase = "action") {
    return CallsOf(calls_, step, phase);
  }

  // The saga and every recorded call, for failure messages.
  std::string Explain() const {
    std::ostringstream out;
    out << "saga: " << saga_.ShortDebugString() << "\ncalls:\n";
    for (const RecordedCall& c : calls_) {
      out << "  " << c.Describe() << " " << c.handler << " " << absl::FormatTime(c.started)
          << " -> " << (c.finished ? absl::FormatTime(End(c)) : "running") << " " << c.outcome
          << " " << c.error_code << " input=" << c.input.dump() << "\n";
    }
    return out.str();
  }

  std::unique_ptr<SagaHarness> harness_;
  v1::Saga saga_;
  std::vector<RecordedCall> calls_;
};

using States = std::map<std::string, std::string>;

TEST_F(DefinitionLanguageTest, IndependentStepsOverlapAndAJoinWaitsForBoth) {
  const json definition = json::parse(R"({"name": "fan", "version": 1, "steps": [
    {"name": "start", "participant": "p0", "action": "echo"},
    {"name": "left", "participant": "p0", "action": "sleep", "after": ["start"],
     "input": {"sleep_ms": 700}},
    {"name": "right", "participant": "p1", "action": "sleep", "after": ["start"],
     "input": {"sleep_ms": 700}},
    {"name": "join", "participant": "p0", "action": "echo", "after": ["left", "right"]}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPLETED) << Explain();
  EXPECT_EQ(StepStates(saga_), (States{{"start", "SUCCEEDED"},
                                       {"left", "SUCCEEDED"},
                                       {"right", "SUCCEEDED"},
                                       {"join", "SUCCEEDED"}}));
  ASSERT_EQ(calls_.size(), 4u) << Explain();
  const RecordedCall start = Calls("start").at(0);
  const RecordedCall left = Calls("left").at(0);
  const RecordedCall right = Calls("right").at(0);
  const RecordedCall join = Calls("join").at(0);
  EXPECT_TRUE(Overlap(left, right)) << "left and right ran one after the other\n" << Explain();
  EXPECT_GE(left.started, End(start)) << Explain();
  EXPECT_GE(right.started, End(start)) << Explain();
  EXPECT_GE(join.started, std::max(End(left), End(right)))
      << "join started before both its dependencies finished\n"
      << Explain();
}

TEST_F(DefinitionLanguageTest, DataFlowsIntoInputsAndOutputKeepingJsonTypes) {
  const json definition = json::parse(R"({"name": "flow", "version": 1, "steps": [
    {"name": "produce", "participant": "p0", "action": "echo",
     "input": {"order": {"id": "o-7", "lines": 3}, "customer_id": "${input}/customer/id",
               "escaped": "$${input}/amount"}},
    {"name": "consume", "participant": "p1", "action": "echo", "after": ["produce"],
     "input": {"customer": "${input}/customer", "amount": "${input}/amount",
               "tags": "${input}/tags", "rush": "${input}/rush",
               "order": "${steps.produce.output}/input/order",
               "lines": "${steps.produce.output}/input/order/lines",
               "producer": "${steps.produce.output}/step",
               "not_rendered_twice": "${steps.produce.output}/input/escaped",
               "nested": {"list": ["${input}/customer/name", 1]},
               "text": "order ${input}/amount"}},
    {"name": "plain", "participant": "p0", "action": "echo", "after": ["consume"]}],
   "output": {"order_id": "${steps.produce.output}/input/order/id",
              "consumed": "${steps.consume.output}/input",
              "customer": "${input}/customer/name"}})");
  const json input = json::parse(
      R"({"customer": {"id": 7, "name": "ada"}, "amount": 12.5, "tags": ["x", "y"],
          "rush": true})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, input));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPLETED) << Explain();
  ASSERT_EQ(calls_.size(), 3u) << Explain();
  EXPECT_EQ(Calls("produce").at(0).input,
            json::parse(R"({"order": {"id": "o-7", "lines": 3}, "customer_id": 7,
                            "escaped": "${input}/amount"})"))
      << Explain();
  const json consumed = Calls("consume").at(0).input;
  const json expected_consumed = json::parse(R"({
      "customer": {"id": 7, "name": "ada"}, "amount": 12.5, "tags": ["x", "y"], "rush": true,
      "order": {"id": "o-7", "lines": 3}, "lines": 3, "producer": "produce",
      "not_rendered_twice": "${input}/amount",
      "nested": {"list": ["ada", 1]}, "text": "order ${input}/amount"})");
  EXPECT_EQ(consumed, expected_consumed) << Explain();
  // The types survive the trip, not just the printed values.
  EXPECT_TRUE(consumed["customer"].is_object()) << consumed;
  EXPECT_TRUE(consumed["lines"].is_number_integer()) << consumed;
  EXPECT_TRUE(consumed["amount"].is_number_float()) << consumed;
  EXPECT_TRUE(consumed["rush"].is_boolean()) << consumed;
  EXPECT_TRUE(consumed["tags"].is_array()) << consumed;
  // The coordinator shows the input it rendered, identical to what the participant got.
  EXPECT_EQ(json::parse(StepNamed(saga_, "consume").input_json()), expected_consumed);
  // A step without an input template receives the saga input.
  EXPECT_EQ(Calls("plain").at(0).input, input) << Explain();

  auto output = harness_->coordinator().SagaOutput(saga_.id());
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ(*output,
            (json{{"order_id", "o-7"}, {"consumed", expected_consumed}, {"customer", "ada"}}));
}

TEST_F(DefinitionLanguageTest, AMissingReferencedValueFailsTheStepUncalled) {
  const json definition = json::parse(R"({"name": "missing", "version": 1, "steps": [
    {"name": "a", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "b", "participant": "p0", "action": "echo", "compensation": "undo",
     "input": {"x": "${input}/nowhere"}}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json{{"here", 1}}));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPENSATED) << Explain();
  EXPECT_EQ(StepStates(saga_), (States{{"a", "COMPENSATED"}, {"b", "FAILED"}})) << Explain();
  EXPECT_NE(StepNamed(saga_, "b").error().find("unresolved_input"), std::string::npos) << Explain();
  EXPECT_TRUE(Calls("b").empty()) << Explain();
  EXPECT_TRUE(Calls("b", "compensation").empty()) << Explain();
  EXPECT_EQ(Calls("a", "compensation").size(), 1u) << Explain();
}

TEST_F(DefinitionLanguageTest, WhenConditionsSkipOrRunSteps) {
  const json definition = json::parse(R"({"name": "cond", "version": 1, "steps": [
    {"name": "first", "participant": "p0", "action": "echo"},
    {"name": "big", "participant": "p0", "action": "echo", "after": ["first"],
     "when": {"value": "${input}/amount", "gt": 100}},
    {"name": "vip", "participant": "p1", "action": "echo", "after": ["first"],
     "when": {"value": "${input}/vip", "equals": true}},
    {"name": "last", "participant": "p0", "action": "echo", "after": ["big", "vip"]}],
   "output": {"big": "${steps.big.output}/step", "vip": "${steps.vip.output}/step"}})");
  const absl::Status applied = harness_->Apply(definition);
  ASSERT_TRUE(applied.ok()) << applied;

  struct Case {
    json input;
    std::string big, vip;  // expected states
  };
  for (const Case& c : {Case{{{"amount", 50}, {"vip", true}}, "SKIPPED", "SUCCEEDED"},
                        Case{{{"amount", 500}}, "SUCCEEDED", "SKIPPED"},
                        Case{{{"amount", 5}, {"vip", "yes"}}, "SKIPPED", "SKIPPED"}}) {
    SCOPED_TRACE(c.input.dump());
    ASSERT_NO_FATAL_FAILURE(Run(definition, c.input, /*apply=*/false));
    ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPLETED) << Explain();
    EXPECT_EQ(
        StepStates(saga_),
        (States{{"first", "SUCCEEDED"}, {"big", c.big}, {"vip", c.vip}, {"last", "SUCCEEDED"}}))
        << Explain();
    // A skipped step is never called; one whose condition holds is, once.
    EXPECT_EQ(Calls("big").size(), c.big == "SKIPPED" ? 0u : 1u) << Explain();
    EXPECT_EQ(Calls("vip").size(), c.vip == "SKIPPED" ? 0u : 1u) << Explain();
    ASSERT_EQ(Calls("last").size(), 1u) << Explain();
    for (const RecordedCall& call : calls_) {
      if (call.step != "last") {
        EXPECT_LE(End(call), Calls("last").at(0).started) << Explain();
      }
    }
    // The output gets null for a skipped step.
    auto output = harness_->coordinator().SagaOutput(saga_.id());
    ASSERT_TRUE(output.ok()) << output.status();
    EXPECT_EQ(*output, (json{{"big", c.big == "SKIPPED" ? json(nullptr) : json("big")},
                             {"vip", c.vip == "SKIPPED" ? json(nullptr) : json("vip")}}));
  }
}

TEST_F(DefinitionLanguageTest, ASkippedStepIsNeverCompensated) {
  const json definition = json::parse(R"({"name": "cond-fail", "version": 1, "steps": [
    {"name": "a", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "maybe", "participant": "p1", "action": "echo", "compensation": "undo",
     "when": {"value": "${input}/go", "exists": true}},
    {"name": "boom", "participant": "p0", "action": "fail", "input": {"code": "nope"}}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPENSATED) << Explain();
  EXPECT_EQ(StepStates(saga_),
            (States{{"a", "COMPENSATED"}, {"maybe", "SKIPPED"}, {"boom", "FAILED"}}))
      << Explain();
  EXPECT_NE(saga_.error().find("nope"), std::string::npos) << saga_.error();
  EXPECT_TRUE(Calls("maybe").empty()) << Explain();
  EXPECT_TRUE(Calls("maybe", "compensation").empty()) << Explain();
  EXPECT_EQ(Calls("boom").size(), 1u) << Explain();
  EXPECT_TRUE(Calls("boom", "compensation").empty()) << "a refused step has nothing to undo";
  EXPECT_EQ(Calls("a", "compensation").size(), 1u) << Explain();
}

TEST_F(DefinitionLanguageTest, RetriesAreSpacedByTheBackoffPolicy) {
  const json definition = json::parse(R"({"name": "backoff", "version": 1, "steps": [
    {"name": "exact", "participant": "p0", "action": "flaky", "after": [],
     "input": {"fail_attempts": 3},
     "retry": {"max_attempts": 5, "initial_interval": "200ms", "backoff_coefficient": 2,
               "max_interval": "10s", "jitter": 0}},
    {"name": "jittered", "participant": "p1", "action": "flaky", "after": [],
     "input": {"fail_attempts": 3},
     "retry": {"max_attempts": 5, "initial_interval": "200ms", "backoff_coefficient": 2,
               "max_interval": "10s", "jitter": 0.5}}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPLETED) << Explain();
  for (const std::string step : {"exact", "jittered"}) {
    SCOPED_TRACE(step);
    const std::vector<RecordedCall> attempts = Calls(step);
    ASSERT_EQ(attempts.size(), 4u) << Explain();
    EXPECT_EQ(StepNamed(saga_, step).attempts(), 4);
    const double shortest = step == "exact" ? 1.0 : 0.5;  // 1 - jitter
    const long long policy[] = {200, 400, 800};
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(attempts[i].attempt, i + 1) << Explain();
      EXPECT_EQ(attempts[i].idempotency_key, saga_.id() + "/" + step + "/action");
      EXPECT_EQ(attempts[i].outcome, i < 3 ? "retryable" : "success") << Explain();
      if (i == 0) continue;
      const long long gap = Ms(attempts[i - 1].started, attempts[i].started);
      EXPECT_GE(gap, static_cast<long long>(policy[i - 1] * shortest))
          << "wait before attempt " << i + 1 << "\n"
          << Explain();
      EXPECT_LT(gap, policy[i - 1] + 300) << "wait before attempt " << i + 1 << "\n" << Explain();
    }
  }
}

TEST_F(DefinitionLanguageTest, ANonRetryableErrorFailsAtOnceAndCompensates) {
  // non_retryable_errors comes from the defaults; the step's own retry sets only
  // max_attempts, and keeps the rest.
  const json definition = json::parse(R"({"name": "nonretry", "version": 1,
   "defaults": {"retry": {"max_attempts": 5, "initial_interval": "50ms",
                          "non_retryable_errors": ["card_expired"]}},
   "steps": [
    {"name": "first", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "charge", "participant": "p1", "action": "flaky", "compensation": "undo",
     "input": {"fail_attempts": 10, "code": "card_expired"}, "retry": {"max_attempts": 4}}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPENSATED) << Explain();
  EXPECT_EQ(StepStates(saga_), (States{{"first", "COMPENSATED"}, {"charge", "FAILED"}}))
      << Explain();
  EXPECT_EQ(Calls("charge").size(), 1u) << "a non-retryable error was retried\n" << Explain();
  EXPECT_EQ(StepNamed(saga_, "charge").attempts(), 1);
  EXPECT_NE(saga_.error().find("card_expired"), std::string::npos) << saga_.error();
  EXPECT_TRUE(Calls("charge", "compensation").empty())
      << "a non-retryable error has no effect to undo\n"
      << Explain();
  const std::vector<RecordedCall> undo = Calls("first", "compensation");
  ASSERT_EQ(undo.size(), 1u) << Explain();
  EXPECT_EQ(undo[0].action_output, Calls("first").at(0).output) << Explain();
}

TEST_F(DefinitionLanguageTest, AnAttemptTimeoutIsRetriedWithTheSameKeyThenCompensated) {
  const json definition = json::parse(R"({"name": "attempt-timeout", "version": 1, "steps": [
    {"name": "first", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "stuck", "participant": "p1", "action": "hang", "compensation": "undo",
     "attempt_timeout": "400ms",
     "retry": {"max_attempts": 2, "initial_interval": "100ms"},
     "compensation_retry": {"max_attempts": 20, "initial_interval": "50ms"}}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPENSATED) << Explain();
  const std::vector<RecordedCall> attempts = Calls("stuck");
  ASSERT_EQ(attempts.size(), 2u) << Explain();
  EXPECT_EQ(attempts[0].attempt, 1);
  EXPECT_EQ(attempts[1].attempt, 2);
  EXPECT_EQ(attempts[0].idempotency_key, saga_.id() + "/stuck/action");
  EXPECT_EQ(attempts[1].idempotency_key, attempts[0].idempotency_key);
  // Deadlines run from when the coordinator sent a call, a little before the participant
  // recorded it: kSlackMs allows for that.
  EXPECT_GE(Ms(attempts[0].started, attempts[1].started), 400 + 100 - kSlackMs) << Explain();
  // Whether the timed-out calls took effect is unknown, so the step is compensated too,
  // and before the step it depends on.
  EXPECT_EQ(StepStates(saga_), (States{{"first", "COMPENSATED"}, {"stuck", "COMPENSATED"}}))
      << Explain();
  const std::vector<RecordedCall> undo_stuck = Calls("stuck", "compensation");
  const std::vector<RecordedCall> undo_first = Calls("first", "compensation");
  ASSERT_EQ(undo_stuck.size(), 1u) << Explain();
  ASSERT_EQ(undo_first.size(), 1u) << Explain();
  EXPECT_GE(Ms(attempts[1].started, undo_stuck[0].started), 400 - kSlackMs) << Explain();
  EXPECT_GE(undo_first[0].started, End(undo_stuck[0])) << Explain();
}

TEST_F(DefinitionLanguageTest, AStepTimeoutEndsTheRetriesAndCompensates) {
  const json definition = json::parse(R"({"name": "step-timeout", "version": 1, "steps": [
    {"name": "first", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "slow", "participant": "p1", "action": "flaky", "compensation": "undo",
     "input": {"fail_attempts": 1000}, "step_timeout": "1s",
     "retry": {"max_attempts": 1000, "initial_interval": "100ms", "max_interval": "100ms"},
     "compensation_retry": {"max_attempts": 20, "initial_interval": "50ms"}}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPENSATED) << Explain();
  EXPECT_EQ(StepStates(saga_), (States{{"first", "COMPENSATED"}, {"slow", "COMPENSATED"}}))
      << Explain();
  const std::vector<RecordedCall> attempts = Calls("slow");
  ASSERT_GE(attempts.size(), 3u) << Explain();
  EXPECT_LT(Ms(attempts.front().started, attempts.back().started), 1000 + kSlackMs)
      << "an attempt started after the step timeout\n"
      << Explain();
  const std::vector<RecordedCall> undo_slow = Calls("slow", "compensation");
  ASSERT_EQ(undo_slow.size(), 1u) << Explain();
  const long long to_undo = Ms(attempts.front().started, undo_slow[0].started);
  EXPECT_GE(to_undo, 1000 - kSlackMs) << Explain();
  EXPECT_LT(to_undo, 3000) << Explain();
  ASSERT_EQ(Calls("first", "compensation").size(), 1u) << Explain();
  EXPECT_GE(Calls("first", "compensation")[0].started, End(undo_slow[0]));
}

TEST_F(DefinitionLanguageTest, TheSagaTimeoutCompensatesAStepInProgress) {
  const json definition = json::parse(R"({"name": "saga-timeout", "version": 1,
   "timeout": "1s", "steps": [
    {"name": "first", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "stuck", "participant": "p1", "action": "hang", "compensation": "undo",
     "attempt_timeout": "20s",
     "compensation_retry": {"max_attempts": 20, "initial_interval": "50ms"}}]})");
  const absl::Time began = absl::Now();
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object(), true, absl::Seconds(10)));

  EXPECT_LT(absl::Now() - began, absl::Seconds(6)) << "the saga waited for the hung call";
  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPENSATED) << Explain();
  EXPECT_EQ(StepStates(saga_), (States{{"first", "COMPENSATED"}, {"stuck", "COMPENSATED"}}))
      << Explain();
  EXPECT_EQ(Calls("stuck").size(), 1u) << Explain();
  const std::vector<RecordedCall> undo_stuck = Calls("stuck", "compensation");
  const std::vector<RecordedCall> undo_first = Calls("first", "compensation");
  ASSERT_EQ(undo_stuck.size(), 1u) << Explain();
  ASSERT_EQ(undo_first.size(), 1u) << Explain();
  // The saga timeout runs from the saga's creation.
  absl::Time created;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, saga_.created_at(), &created, &error)) << error;
  EXPECT_GE(Ms(created, undo_stuck[0].started), 1000 - kSlackMs) << Explain();
  EXPECT_GE(undo_first[0].started, End(undo_stuck[0])) << Explain();
}

TEST_F(DefinitionLanguageTest, AfterThePivotTheSagaOnlyGoesForward) {
  const json definition = json::parse(R"({"name": "pivot-forward", "version": 1, "steps": [
    {"name": "reserve", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "commit", "participant": "p0", "action": "echo", "pivot": true},
    {"name": "notify", "participant": "p1", "action": "flaky", "input": {"fail_attempts": 4},
     "retry": {"max_attempts": 2, "initial_interval": "50ms", "max_interval": "50ms"}}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPLETED) << Explain();
  EXPECT_EQ(StepStates(saga_),
            (States{{"reserve", "SUCCEEDED"}, {"commit", "SUCCEEDED"}, {"notify", "SUCCEEDED"}}));
  // max_attempts 2 does not apply after the pivot: retried until it succeeded.
  const std::vector<RecordedCall> attempts = Calls("notify");
  ASSERT_EQ(attempts.size(), 5u) << Explain();
  EXPECT_EQ(attempts.back().outcome, "success");
  for (const RecordedCall& call : calls_) {
    EXPECT_EQ(call.phase, "action") << "nothing is compensated\n" << Explain();
  }
}

TEST_F(DefinitionLanguageTest, ABusinessFailureAfterThePivotLeavesTheSagaFailed) {
  const json definition = json::parse(R"({"name": "pivot-then-fail", "version": 1, "steps": [
    {"name": "reserve", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "commit", "participant": "p0", "action": "echo", "pivot": true},
    {"name": "ship", "participant": "p1", "action": "fail", "input": {"code": "lost"}}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_FAILED) << Explain();
  EXPECT_EQ(StepStates(saga_),
            (States{{"reserve", "SUCCEEDED"}, {"commit", "SUCCEEDED"}, {"ship", "FAILED"}}));
  EXPECT_NE(saga_.error().find("lost"), std::string::npos) << saga_.error();
  EXPECT_EQ(Calls("ship").size(), 1u) << Explain();
  for (const RecordedCall& call : calls_) {
    EXPECT_EQ(call.phase, "action") << "nothing is compensated\n" << Explain();
  }
}

TEST_F(DefinitionLanguageTest, ABusinessFailureOfThePivotCompensatesTheStepsBeforeIt) {
  const json definition = json::parse(R"({"name": "pivot-fail", "version": 1, "steps": [
    {"name": "a", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "b", "participant": "p1", "action": "echo", "compensation": "undo"},
    {"name": "commit", "participant": "p0", "action": "fail", "pivot": true,
     "input": {"code": "declined"}},
    {"name": "after", "participant": "p1", "action": "echo"}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPENSATED) << Explain();
  EXPECT_EQ(
      StepStates(saga_),
      (States{
          {"a", "COMPENSATED"}, {"b", "COMPENSATED"}, {"commit", "FAILED"}, {"after", "PENDING"}}))
      << Explain();
  EXPECT_NE(saga_.error().find("declined"), std::string::npos) << saga_.error();
  EXPECT_EQ(Calls("commit").size(), 1u) << Explain();
  EXPECT_TRUE(Calls("after").empty()) << Explain();
  const std::vector<RecordedCall> undo_a = Calls("a", "compensation");
  const std::vector<RecordedCall> undo_b = Calls("b", "compensation");
  ASSERT_EQ(undo_a.size(), 1u) << Explain();
  ASSERT_EQ(undo_b.size(), 1u) << Explain();
  EXPECT_GE(undo_a[0].started, End(undo_b[0])) << Explain();
}

TEST_F(DefinitionLanguageTest, ADiamondCompensatesItsBranchesTogetherBeforeTheirAncestor) {
  const json definition = json::parse(R"({"name": "diamond", "version": 1, "steps": [
    {"name": "a", "participant": "p0", "action": "echo", "compensation": "undo"},
    {"name": "b", "participant": "p0", "action": "echo", "compensation": "undo",
     "after": ["a"], "input": {"undo_sleep_ms": 600}},
    {"name": "c", "participant": "p1", "action": "echo", "compensation": "undo",
     "after": ["a"], "input": {"undo_sleep_ms": 600}},
    {"name": "d", "participant": "p1", "action": "fail", "after": ["b", "c"]}]})");
  ASSERT_NO_FATAL_FAILURE(Run(definition, json::object()));

  ASSERT_EQ(saga_.state(), v1::SAGA_STATE_COMPENSATED) << Explain();
  EXPECT_EQ(
      StepStates(saga_),
      (States{{"a", "COMPENSATED"}, {"b", "COMPENSATED"}, {"c", "COMPENSATED"}, {"d", "FAILED"}}))
      << Explain();
  EXPECT_EQ(Calls("d").size(), 1u) << Explain();
  const std::vector<RecordedCall> undo_a = Calls("a", "compensation");
  const std::vector<RecordedCall> undo_b = Calls("b", "compensation");
  const std::vector<RecordedCall> undo_c = Calls("c", "compensation");
  ASSERT_EQ(undo_a.size(), 1u) << Explain();
  ASSERT_EQ(undo_b.size(), 1u) << Explain();
  ASSERT_EQ(undo_c.size(), 1u) << Explain();
  // A compensation receives the action's input and output.
  EXPECT_EQ(undo_b[0].input, json({{"undo_sleep_ms", 600}}));
  EXPECT_EQ(undo_b[0].action_output, Calls("b").at(0).output);
  EXPECT_GE(undo_b[0].started, End(Calls("d").at(0))) << Explain();
  EXPECT_TRUE(Overlap(undo_b[0], undo_c[0])) << "b and c were compensated one after the other\n"
                                             << Explain();
  EXPECT_GE(undo_a[0].started, std::max(End(undo_b[0]), End(undo_c[0])))
      << "a was compensated before the steps that depend on it\n"
      << Explain();
}

}  // namespace
}  // namespace skald::testing
