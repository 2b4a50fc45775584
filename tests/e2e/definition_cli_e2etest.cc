// `skald definition validate | show | graph | simulate` as a user runs them: the real binary
// as a process, offline on files and against a running coordinator.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/e2e/order_system.h"
#include "tests/e2e/skald_command.h"
#include "tests/support/temp_dir.h"

namespace skald::testing {
namespace {

using nlohmann::json;

// The complete example of docs/definitions.md.
json DocumentedExample() {
  return json::parse(R"({
    "name": "shop", "version": 2, "timeout": "10m",
    "defaults": {
      "retry": {"max_attempts": 5, "initial_interval": "200ms", "backoff_coefficient": 2,
                "max_interval": "10s", "jitter": 0.2, "non_retryable_errors": ["invalid_input"]},
      "attempt_timeout": "5s", "step_timeout": "1m"},
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

std::string WriteJson(const std::string& dir, const std::string& name, const json& document) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << document.dump(2);
  return path;
}

class DefinitionCliOffline : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-definition-cli-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
  }
  const std::string& dir() const { return dir_->path(); }

  std::unique_ptr<TempDir> dir_;
};

TEST_F(DefinitionCliOffline, ValidateAcceptsTheDocumentedExample) {
  const std::string file = WriteJson(dir(), "shop.json", DocumentedExample());
  CommandOutput result = RunSkald(dir(), {"definition", "validate", file});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "definition shop v2 is valid (5 steps)\n");
  EXPECT_EQ(result.err, "");
}

TEST_F(DefinitionCliOffline, ValidatePrintsEveryErrorOnItsOwnLine) {
  json broken = DocumentedExample();
  broken["steps"][1]["after"] = {"create-ordr"};
  broken["steps"][2].erase("action");
  broken["timeuot"] = "1m";
  const std::string file = WriteJson(dir(), "broken.json", broken);
  CommandOutput result = RunSkald(dir(), {"definition", "validate", file});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  std::vector<std::string> lines;
  std::istringstream err(result.err);
  for (std::string line; std::getline(err, line);) lines.push_back(line);
  // Unknown steps in `after` are reported once the fields are known to be right, so the two
  // field errors come first; either way every line names its place.
  ASSERT_GE(lines.size(), 2u) << result.err;
  EXPECT_NE(result.err.find("timeuot: unknown field"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("steps[2].action: required string field is missing"), std::string::npos)
      << result.err;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.rfind("definition: ", 0), 0u) << line;
  }
}

TEST_F(DefinitionCliOffline, ValidateReportsAnUnreadableFile) {
  CommandOutput result = RunSkald(dir(), {"definition", "validate", dir() + "/missing.json"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "error: cannot read " + dir() + "/missing.json\n");
}

TEST_F(DefinitionCliOffline, GraphAndSimulateWorkOnAFile) {
  const std::string file = WriteJson(dir(), "shop.json", DocumentedExample());
  CommandOutput dot = RunSkald(dir(), {"definition", "graph", "--file", file, "--format", "dot"});
  ASSERT_EQ(dot.exit_code, 0) << dot.err;
  EXPECT_EQ(dot.out.rfind("digraph \"shop v2\" {\n", 0), 0u) << dot.out;
  EXPECT_NE(dot.out.find("  \"create-order\" -> \"reserve-stock\";\n"), std::string::npos);
  EXPECT_NE(dot.out.find("  \"reserve-stock\" -> \"create-order\" [style=dashed"),
            std::string::npos)
      << dot.out;

  CommandOutput simulated = RunSkald(dir(), {"definition", "simulate", "--file", file, "--json"});
  ASSERT_EQ(simulated.exit_code, 0) << simulated.err;
  const json simulation = json::parse(simulated.out);
  EXPECT_EQ(simulation["scenarios"][0]["state"], "COMPLETED");

  json broken = DocumentedExample();
  broken["steps"][0].erase("participant");
  const std::string broken_file = WriteJson(dir(), "broken.json", broken);
  CommandOutput rejected = RunSkald(dir(), {"definition", "simulate", "--file", broken_file});
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_NE(rejected.err.find("steps[0].participant: required: the step"), std::string::npos)
      << rejected.err;

  CommandOutput neither = RunSkald(dir(), {"definition", "simulate"});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("give either a definition NAME"), std::string::npos) << neither.err;
}

TEST(DefinitionCli, ShowsGraphsAndSimulatesStoredDefinitions) {
  auto system = OrderSystem::Start();
  ASSERT_TRUE(system.ok()) << system.status();
  const std::string& dir = (*system)->dir();
  const std::string address = (*system)->coordinator_address();

  const json v2 = DocumentedExample();
  json v3 = v2;
  v3["version"] = 3;
  v3["steps"].erase(4);  // Without notify-customer.
  const std::string v2_file = WriteJson(dir, "shop-v2.json", v2);
  for (const json& document : {v2, v3}) {
    CommandOutput applied = RunSkald(
        dir, {"definition", "apply", WriteJson(dir, "apply.json", document), "--address", address});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  // show: the latest version, as a document and a table.
  CommandOutput shown = RunSkald(dir, {"definition", "show", "shop", "--address", address});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(shown.out.rfind("definition shop v3\n\n{\n", 0), 0u) << shown.out;
  EXPECT_NE(shown.out.find("\"version\": 3"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("\nSTEP "), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("\nconfirm-order "), std::string::npos) << shown.out;
  EXPECT_EQ(shown.out.find("notify-customer"), std::string::npos) << shown.out;

  // show --version --json: exactly the document that was applied.
  CommandOutput shown_json = RunSkald(
      dir, {"definition", "show", "shop", "--version", "2", "--json", "--address", address});
  ASSERT_EQ(shown_json.exit_code, 0) << shown_json.err;
  EXPECT_EQ(json::parse(shown_json.out), v2);

  CommandOutput missing = RunSkald(dir, {"definition", "show", "nope", "--address", address});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "error: NOT_FOUND: no definition named \"nope\" has been applied\n");
  CommandOutput no_version =
      RunSkald(dir, {"definition", "show", "shop", "--version", "9", "--address", address});
  EXPECT_EQ(no_version.exit_code, 1);
  EXPECT_NE(no_version.err.find("NOT_FOUND"), std::string::npos) << no_version.err;

  // graph and simulate of a stored definition print what they print for its file.
  for (const std::string format : {"dot", "mermaid"}) {
    CommandOutput online = RunSkald(dir, {"definition", "graph", "shop", "--version", "2",
                                          "--format", format, "--address", address});
    CommandOutput offline =
        RunSkald(dir, {"definition", "graph", "--file", v2_file, "--format", format});
    ASSERT_EQ(online.exit_code, 0) << online.err;
    EXPECT_EQ(online.out, offline.out);
  }
  CommandOutput mermaid =
      RunSkald(dir, {"definition", "graph", "shop", "--format", "mermaid", "--address", address});
  EXPECT_EQ(mermaid.out.rfind("flowchart LR\n", 0), 0u) << mermaid.out;

  CommandOutput simulated = RunSkald(
      dir, {"definition", "simulate", "shop", "--version", "2", "--json", "--address", address});
  ASSERT_EQ(simulated.exit_code, 0) << simulated.err;
  const json simulation = json::parse(simulated.out);
  EXPECT_EQ(simulation["definition"], "shop");
  EXPECT_EQ(simulation["version"], 2);
  CommandOutput offline_simulation =
      RunSkald(dir, {"definition", "simulate", "--file", v2_file, "--json"});
  EXPECT_EQ(simulation, json::parse(offline_simulation.out));

  bool saw_forward_recovery = false;
  for (const json& scenario : simulation["scenarios"]) {
    if (scenario["scenario"] == "step_fails" && scenario["step"] == "notify-customer") {
      saw_forward_recovery = scenario["forward_recovery"] == true;
      EXPECT_EQ(scenario["compensations"], json::array()) << scenario.dump();
    }
    if (scenario["scenario"] == "step_fails" && scenario["step"] == "charge-payment") {
      EXPECT_EQ(scenario["state"], "COMPENSATED") << scenario.dump();
      EXPECT_EQ(scenario["compensations"], json({{"reserve-stock"}, {"create-order"}}))
          << scenario.dump();
    }
  }
  EXPECT_TRUE(saw_forward_recovery) << simulation.dump(2);

  CommandOutput text = RunSkald(dir, {"definition", "simulate", "shop", "--address", address});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("definition shop v3: ", 0), 0u) << text.out;
  EXPECT_NE(text.out.find("\nhappy path"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("reserve-stock | charge-payment  (concurrent)"), std::string::npos)
      << text.out;
}

TEST(DefinitionCli, ReportsAnUnreachableCoordinator) {
  auto dir = TempDir::Create("skald-definition-cli-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  CommandOutput result =
      RunSkald(dir->path(), {"definition", "show", "shop", "--address", "127.0.0.1:1"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("error: UNAVAILABLE: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("is the coordinator running at 127.0.0.1:1?"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace skald::testing
