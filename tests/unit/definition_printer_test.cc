#include "coordinator/cli/definition_printer.h"

#include <gtest/gtest.h>

#include <sstream>

#include "coordinator/core/definition_parser.h"

namespace skald::cli {
namespace {

using nlohmann::json;

core::Condition When(std::string value, core::Condition::Op op, json operand) {
  core::Condition condition;
  condition.value = std::move(value);
  condition.op = op;
  condition.operand = std::move(operand);
  return condition;
}

core::SagaDefinition ParseText(std::string_view text) {
  auto definition = core::ParseDefinition(text);
  EXPECT_TRUE(definition.ok()) << definition.status();
  return definition.ok() ? *definition : core::SagaDefinition{};
}

const char kDefinition[] = R"({
  "name": "trip", "version": 1,
  "steps": [
    {"name": "flight", "participant": "10.0.0.1:80", "action": "book", "compensation": "cancel"},
    {"name": "hotel", "participant": "10.0.0.2:80", "action": "book", "compensation": "cancel",
     "after": [], "when": {"value": "${input}/nights", "gt": 0}},
    {"name": "pay", "participant": "10.0.0.3:80", "action": "charge",
     "after": ["flight", "hotel"], "pivot": true},
    {"name": "mail", "service": "mailer", "action": "send"}
  ]})";

TEST(DefinitionPrinter, DescribesEveryComparison) {
  using Op = core::Condition::Op;
  EXPECT_EQ(DescribeCondition(When("${input}/a", Op::kEquals, "x")), "${input}/a == \"x\"");
  EXPECT_EQ(DescribeCondition(When("${input}/a", Op::kNotEquals, 2)), "${input}/a != 2");
  EXPECT_EQ(DescribeCondition(When("${input}/a", Op::kExists, true)), "${input}/a exists");
  EXPECT_EQ(DescribeCondition(When("${input}/a", Op::kExists, false)), "${input}/a is missing");
  EXPECT_EQ(DescribeCondition(When("${input}/a", Op::kGt, 0)), "${input}/a > 0");
  EXPECT_EQ(DescribeCondition(When("${input}/a", Op::kGte, 1.5)), "${input}/a >= 1.5");
  EXPECT_EQ(DescribeCondition(When("${input}/a", Op::kLt, -1)), "${input}/a < -1");
  EXPECT_EQ(DescribeCondition(When("${steps.s.output}/n", Op::kLte, 9)),
            "${steps.s.output}/n <= 9");
}

TEST(DefinitionPrinter, PrintsAStepTable) {
  std::ostringstream out;
  PrintStepTable(ParseText(kDefinition), out);
  EXPECT_EQ(out.str(),
            "STEP    AFTER         SENT TO         ACTION  COMPENSATION  FLAGS\n"
            "flight  -             10.0.0.1:80     book    cancel        -\n"
            "hotel   -             10.0.0.2:80     book    cancel        when\n"
            "pay     flight,hotel  10.0.0.3:80     charge  -             pivot\n"
            "mail    pay           service mailer  send    -             after-pivot\n");
}

TEST(DefinitionPrinter, SimulationJsonNamesStepsAndWaves) {
  const core::SagaDefinition definition = ParseText(kDefinition);
  const json simulation = SimulationToJson(definition, core::Simulate(definition));
  EXPECT_EQ(simulation["definition"], "trip");
  EXPECT_EQ(simulation["version"], 1);
  ASSERT_GE(simulation["scenarios"].size(), 2u);

  const json& happy = simulation["scenarios"][0];
  EXPECT_EQ(happy["scenario"], "happy_path");
  EXPECT_TRUE(happy["step"].is_null());
  EXPECT_EQ(happy["state"], "COMPLETED");
  EXPECT_EQ(happy["actions"].size(), 3u) << happy.dump();
  EXPECT_EQ(happy["actions"][0].size(), 2u) << happy.dump();  // flight and hotel together
  EXPECT_EQ(happy["actions"][1], json({"pay"}));
  EXPECT_EQ(happy["compensations"], json::array());
  EXPECT_EQ(happy["forward_recovery"], false);
  EXPECT_EQ(happy["steps"][3], json({{"name", "mail"}, {"state", "SUCCEEDED"}}));

  const json& skipped = simulation["scenarios"][1];
  EXPECT_EQ(skipped["scenario"], "condition_false");
  EXPECT_EQ(skipped["step"], "hotel");
  EXPECT_EQ(skipped["title"], "hotel is skipped (its `when` ${input}/nights > 0 does not hold)");
  EXPECT_EQ(skipped["steps"][1]["state"], "SKIPPED");

  for (const json& scenario : simulation["scenarios"]) {
    if (scenario["scenario"] == "step_fails" && scenario["step"] == "mail") {
      EXPECT_EQ(scenario["forward_recovery"], true) << scenario.dump();
      EXPECT_EQ(scenario["state"], "FAILED") << scenario.dump();
    }
  }
}

TEST(DefinitionPrinter, PrintsScenariosAsText) {
  const core::SagaDefinition definition = ParseText(kDefinition);
  std::ostringstream out;
  PrintSimulation(definition, core::Simulate(definition), out);
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("definition trip v1: 6 scenarios", 0), 0u) << text;
  EXPECT_NE(text.find("\nhappy path (every participant succeeds, every `when` holds)\n"
                      "  actions           1. "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  (concurrent)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\npay fails (a business failure on its first attempt)\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  compensations     none\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  forward recovery  yes"), std::string::npos) << text;
  EXPECT_NE(text.find("  final state       COMPLETED\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace skald::cli
