#include "coordinator/core/simulation.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "coordinator/core/definition_parser.h"

namespace skald::core {
namespace {

using nlohmann::json;
using Names = std::vector<std::vector<std::string>>;

json Step(const std::string& name, json extra = json::object()) {
  json step = {{"name", name},
               {"participant", "127.0.0.1:7801"},
               {"action", "do-" + name},
               {"compensation", "undo-" + name}};
  step.update(extra);
  return step;
}

absl::StatusOr<SagaDefinition> Definition(json steps, json extra = json::object()) {
  json document = {{"name", "sim"}, {"version", 1}, {"steps", std::move(steps)}};
  document.update(extra);
  return ParseDefinition(document.dump());
}

// The waves as step names; a concurrent wave sorted, since its order is the engine's.
Names WaveNames(const SagaDefinition& definition, const std::vector<Wave>& waves) {
  Names names;
  for (const Wave& wave : waves) {
    std::vector<std::string> wave_names;
    for (int step : wave) wave_names.push_back(definition.steps[step].name);
    std::ranges::sort(wave_names);
    names.push_back(wave_names);
  }
  return names;
}

const ScenarioResult& Find(const std::vector<ScenarioResult>& results, ScenarioKind kind,
                           std::optional<int> step = std::nullopt) {
  for (const ScenarioResult& result : results) {
    if (result.kind == kind && result.step == step) return result;
  }
  ADD_FAILURE() << "no scenario " << ToString(kind) << " for step " << step.value_or(-1);
  static const ScenarioResult kNone;
  return kNone;
}

StepStatus StatusOf(const SagaDefinition& definition, const ScenarioResult& result,
                    const std::string& step) {
  return result.final_state.steps.at(*definition.StepIndex(step)).status;
}

bool NotesContain(const ScenarioResult& result, std::string_view text) {
  return std::ranges::any_of(result.notes, [text](const std::string& note) {
    return note.find(text) != std::string::npos;
  });
}

TEST(Simulation, LinearStepsRunOneAfterAnotherAndCompensateLastFirst) {
  auto definition = Definition({Step("a"), Step("b"), Step("c")});
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);

  ASSERT_EQ(results.size(), 4u);  // The happy path and each step failing.
  EXPECT_EQ(results[0].kind, ScenarioKind::kHappyPath);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(results[i + 1].kind, ScenarioKind::kStepFails);
    EXPECT_EQ(results[i + 1].step, i);
  }

  const ScenarioResult& happy = results[0];
  EXPECT_EQ(WaveNames(*definition, happy.actions), (Names{{"a"}, {"b"}, {"c"}}));
  EXPECT_TRUE(happy.compensations.empty());
  EXPECT_EQ(happy.final_state.status, SagaStatus::kCompleted);
  EXPECT_FALSE(happy.forward_recovery);
  EXPECT_TRUE(happy.notes.empty());

  const ScenarioResult& first = Find(results, ScenarioKind::kStepFails, 0);
  EXPECT_EQ(WaveNames(*definition, first.actions), (Names{{"a"}}));
  EXPECT_TRUE(first.compensations.empty());
  EXPECT_EQ(first.final_state.status, SagaStatus::kCompensated);

  const ScenarioResult& middle = Find(results, ScenarioKind::kStepFails, 1);
  EXPECT_EQ(WaveNames(*definition, middle.actions), (Names{{"a"}, {"b"}}));
  EXPECT_EQ(WaveNames(*definition, middle.compensations), (Names{{"a"}}));
  EXPECT_EQ(middle.final_state.status, SagaStatus::kCompensated);
  EXPECT_EQ(StatusOf(*definition, middle, "a"), StepStatus::kCompensated);
  EXPECT_EQ(StatusOf(*definition, middle, "b"), StepStatus::kFailed);
  EXPECT_EQ(StatusOf(*definition, middle, "c"), StepStatus::kPending);
  EXPECT_NE(middle.final_state.error.find("simulated_failure"), std::string::npos)
      << middle.final_state.error;

  const ScenarioResult& last = Find(results, ScenarioKind::kStepFails, 2);
  EXPECT_EQ(WaveNames(*definition, last.compensations), (Names{{"b"}, {"a"}}));
}

// The complete example of docs/definitions.md.
absl::StatusOr<SagaDefinition> OrderExample() {
  return ParseDefinition(R"({
    "name": "order", "version": 2, "timeout": "10m",
    "defaults": {"retry": {"max_attempts": 5, "initial_interval": "200ms"},
                 "attempt_timeout": "5s"},
    "steps": [
      {"name": "create-order", "participant": "127.0.0.1:7801",
       "action": "create", "compensation": "cancel"},
      {"name": "reserve-stock", "participant": "127.0.0.1:7802", "after": ["create-order"],
       "action": "reserve", "compensation": "release",
       "input": {"order_id": "${steps.create-order.output}/order_id",
                 "sku": "${input}/sku", "quantity": "${input}/quantity"}},
      {"name": "charge-payment", "participant": "127.0.0.1:7803", "after": ["create-order"],
       "action": "charge", "compensation": "refund",
       "when": {"value": "${input}/amount", "gt": 0}},
      {"name": "confirm-order", "participant": "127.0.0.1:7801",
       "after": ["reserve-stock", "charge-payment"], "action": "confirm", "pivot": true},
      {"name": "notify-customer", "participant": "127.0.0.1:7801", "after": ["confirm-order"],
       "action": "notify"}
    ],
    "output": {"order_id": "${steps.create-order.output}/order_id",
               "charge": "${steps.charge-payment.output}"}})");
}

TEST(Simulation, HappyPathRunsIndependentStepsInOneWaveWithMadeUpInputs) {
  auto definition = OrderExample();
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  const ScenarioResult& happy = Find(results, ScenarioKind::kHappyPath);
  // reserve-stock's input references the saga input and create-order's output: had the
  // made-up data not resolved them, it would have failed with unresolved_input.
  EXPECT_EQ(happy.final_state.status, SagaStatus::kCompleted) << happy.final_state.error;
  EXPECT_EQ(WaveNames(*definition, happy.actions), (Names{{"create-order"},
                                                          {"charge-payment", "reserve-stock"},
                                                          {"confirm-order"},
                                                          {"notify-customer"}}));
  EXPECT_EQ(StatusOf(*definition, happy, "charge-payment"), StepStatus::kSucceeded);
}

TEST(Simulation, ScenariosComeInTheDocumentedOrder) {
  auto definition = OrderExample();
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  std::vector<std::pair<ScenarioKind, int>> kinds;
  for (const ScenarioResult& result : results) {
    kinds.emplace_back(result.kind, result.step.value_or(-1));
  }
  const std::vector<std::pair<ScenarioKind, int>> expected = {
      {ScenarioKind::kHappyPath, -1}, {ScenarioKind::kConditionFalse, 2},
      {ScenarioKind::kStepFails, 0},  {ScenarioKind::kStepFails, 1},
      {ScenarioKind::kStepFails, 2},  {ScenarioKind::kStepFails, 3},
      {ScenarioKind::kStepFails, 4},  {ScenarioKind::kSagaTimeout, -1}};
  EXPECT_EQ(kinds, expected);
}

TEST(Simulation, FailureBeforeThePivotCompensatesConcurrentlyWhereItCan) {
  auto definition = OrderExample();
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);

  const ScenarioResult& charge = Find(results, ScenarioKind::kStepFails, 2);
  EXPECT_EQ(WaveNames(*definition, charge.actions),
            (Names{{"create-order"}, {"charge-payment", "reserve-stock"}}));
  // reserve-stock succeeded in the same wave, so it is undone; charge-payment was refused
  // and has nothing to undo.
  EXPECT_EQ(WaveNames(*definition, charge.compensations),
            (Names{{"reserve-stock"}, {"create-order"}}));
  EXPECT_EQ(charge.final_state.status, SagaStatus::kCompensated);
  EXPECT_FALSE(charge.forward_recovery);

  const ScenarioResult& pivot = Find(results, ScenarioKind::kStepFails, 3);
  EXPECT_EQ(WaveNames(*definition, pivot.compensations),
            (Names{{"charge-payment", "reserve-stock"}, {"create-order"}}));
  EXPECT_EQ(pivot.final_state.status, SagaStatus::kCompensated);
  EXPECT_FALSE(pivot.forward_recovery);
  EXPECT_EQ(StatusOf(*definition, pivot, "notify-customer"), StepStatus::kPending);
}

TEST(Simulation, FailureAfterThePivotIsForwardRecoveryWithoutCompensation) {
  auto definition = OrderExample();
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  const ScenarioResult& notify = Find(results, ScenarioKind::kStepFails, 4);
  EXPECT_TRUE(notify.forward_recovery);
  EXPECT_TRUE(notify.compensations.empty());
  EXPECT_EQ(notify.final_state.status, SagaStatus::kFailed);
  EXPECT_EQ(StatusOf(*definition, notify, "confirm-order"), StepStatus::kSucceeded);
  EXPECT_EQ(StatusOf(*definition, notify, "create-order"), StepStatus::kSucceeded);
}

TEST(Simulation, FalseConditionSkipsTheStepAndTheSagaCompletes) {
  auto definition = OrderExample();
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  const ScenarioResult& skipped = Find(results, ScenarioKind::kConditionFalse, 2);
  EXPECT_EQ(StatusOf(*definition, skipped, "charge-payment"), StepStatus::kSkipped);
  EXPECT_EQ(skipped.final_state.status, SagaStatus::kCompleted) << skipped.final_state.error;
  EXPECT_EQ(WaveNames(*definition, skipped.actions),
            (Names{{"create-order"}, {"reserve-stock"}, {"confirm-order"}, {"notify-customer"}}));
}

TEST(Simulation, SagaTimeoutPassesInTheLastWaveItStillAffects) {
  auto definition = OrderExample();
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  const ScenarioResult& timeout = Find(results, ScenarioKind::kSagaTimeout);
  // While the pivot is in flight the timeout no longer applies, so the last wave it
  // changes anything in is the second one.
  EXPECT_EQ(WaveNames(*definition, timeout.actions),
            (Names{{"create-order"}, {"charge-payment", "reserve-stock"}}));
  EXPECT_EQ(WaveNames(*definition, timeout.compensations),
            (Names{{"charge-payment", "reserve-stock"}, {"create-order"}}));
  EXPECT_EQ(timeout.final_state.status, SagaStatus::kCompensated);
  EXPECT_TRUE(NotesContain(timeout, "action wave 2")) << ::testing::PrintToString(timeout.notes);
}

TEST(Simulation, SagaTimeoutWithoutAPivotCatchesTheLastStep) {
  auto definition = Definition({Step("a"), Step("b"), Step("c")}, {{"timeout", "1m"}});
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  const ScenarioResult& timeout = Find(results, ScenarioKind::kSagaTimeout);
  // c was in flight: its outcome is unknown, so it is compensated with the rest.
  EXPECT_EQ(WaveNames(*definition, timeout.compensations), (Names{{"c"}, {"b"}, {"a"}}));
  EXPECT_EQ(timeout.final_state.status, SagaStatus::kCompensated);
  EXPECT_TRUE(NotesContain(timeout, "1m after the saga started"))
      << ::testing::PrintToString(timeout.notes);
}

TEST(Simulation, StepTimeoutFailsTheStepWithAnUnknownOutcome) {
  auto definition = Definition({Step("a"), Step("b", {{"step_timeout", "30s"}}), Step("c")});
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  ASSERT_EQ(results.size(), 5u);
  const ScenarioResult& timeout = Find(results, ScenarioKind::kStepTimeout, 1);
  EXPECT_EQ(WaveNames(*definition, timeout.actions), (Names{{"a"}, {"b"}}));
  // b may have taken effect, so it is compensated too, before a.
  EXPECT_EQ(WaveNames(*definition, timeout.compensations), (Names{{"b"}, {"a"}}));
  EXPECT_EQ(timeout.final_state.status, SagaStatus::kCompensated);
  EXPECT_TRUE(timeout.final_state.steps[1].outcome_unknown);
  EXPECT_TRUE(NotesContain(timeout, "30s after the saga started"))
      << ::testing::PrintToString(timeout.notes);
}

TEST(Simulation, StepTimeoutFromThePivotOnNeverPasses) {
  auto definition = Definition({Step("a"),
                                {{"name", "p"},
                                 {"participant", "127.0.0.1:1"},
                                 {"action", "go"},
                                 {"pivot", true},
                                 {"step_timeout", "30s"}}});
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  const ScenarioResult& timeout = Find(results, ScenarioKind::kStepTimeout, 1);
  EXPECT_EQ(timeout.final_state.status, SagaStatus::kCompleted);
  EXPECT_TRUE(timeout.compensations.empty());
  EXPECT_TRUE(NotesContain(timeout, "armed no deadline"))
      << ::testing::PrintToString(timeout.notes);
}

TEST(Simulation, SkippedStepWhoseOutputIsNeededFailsItsDependent) {
  auto definition =
      Definition({Step("a"), Step("b", {{"when", {{"value", "${input}/vip"}, {"equals", true}}}}),
                  Step("c", {{"input", {{"x", "${steps.b.output}/x"}}}})});
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);

  EXPECT_EQ(Find(results, ScenarioKind::kHappyPath).final_state.status, SagaStatus::kCompleted);
  const ScenarioResult& skipped = Find(results, ScenarioKind::kConditionFalse, 1);
  EXPECT_EQ(StatusOf(*definition, skipped, "b"), StepStatus::kSkipped);
  EXPECT_EQ(StatusOf(*definition, skipped, "c"), StepStatus::kFailed);
  EXPECT_NE(skipped.final_state.steps[2].error.find("unresolved_input"), std::string::npos)
      << skipped.final_state.steps[2].error;
  EXPECT_EQ(skipped.final_state.status, SagaStatus::kCompensated);
  EXPECT_EQ(WaveNames(*definition, skipped.compensations), (Names{{"a"}}));
}

// Each comparison holds on the happy path and fails in its own scenario: the made-up data
// is checked by the engine's own evaluation.
class SimulatedCondition : public ::testing::TestWithParam<json> {};

TEST_P(SimulatedCondition, HoldsOnTheHappyPathOnly) {
  json when = GetParam();
  auto definition = Definition({Step("first"), Step("gated", {{"when", when}})});
  ASSERT_TRUE(definition.ok()) << definition.status();
  const std::vector<ScenarioResult> results = Simulate(*definition);
  const ScenarioResult& happy = Find(results, ScenarioKind::kHappyPath);
  EXPECT_EQ(StatusOf(*definition, happy, "gated"), StepStatus::kSucceeded) << when;
  const ScenarioResult& negated = Find(results, ScenarioKind::kConditionFalse, 1);
  EXPECT_EQ(StatusOf(*definition, negated, "gated"), StepStatus::kSkipped) << when;
  EXPECT_EQ(negated.final_state.status, SagaStatus::kCompleted);
}

INSTANTIATE_TEST_SUITE_P(
    EveryComparison, SimulatedCondition,
    ::testing::Values(json{{"value", "${input}/kind"}, {"equals", "gift"}},
                      json{{"value", "${input}/kind"}, {"not_equals", "gift"}},
                      json{{"value", "${input}/coupon/code"}, {"exists", true}},
                      json{{"value", "${input}/coupon"}, {"exists", false}},
                      json{{"value", "${input}/amount"}, {"gt", 0}},
                      json{{"value", "${input}/amount"}, {"gte", 10.5}},
                      json{{"value", "${input}/amount"}, {"lt", -3}},
                      json{{"value", "${input}/amount"}, {"lte", 1e300}},
                      json{{"value", "${steps.first.output}/status"}, {"equals", "ok"}},
                      json{{"value", "${steps.first.output}/n"}, {"lte", 5}}));

}  // namespace
}  // namespace skald::core
