// The `skald` client subcommands against a running coordinator, as a user types them.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "tests/e2e/order_system.h"
#include "tests/e2e/skald_command.h"
#include "tests/support/ready_file.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

TEST(SkaldCli, AppliesStartsWaitsAndShowsSagas) {
  auto system = OrderSystem::Start();
  ASSERT_TRUE(system.ok()) << system.status();
  const std::string address = (*system)->coordinator_address();
  const std::string scratch = (*system)->dir();

  nlohmann::json definition = (*system)->FastDefinition();
  definition["version"] = 2;
  const std::string file = (*system)->dir() + "/order-v2.json";
  std::ofstream(file) << definition.dump(2);

  CommandOutput applied = RunSkald(scratch, {"definition", "apply", file, "--address", address});
  EXPECT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(applied.out, "definition order v2 applied\n");

  const std::string input =
      R"({"order_id":"cli-1","customer":"bo","sku":"widget","quantity":1,"amount":5000})";
  CommandOutput started = RunSkald(scratch, {"saga", "start", "order", "--input", input, "--id",
                                             "cli-saga-1", "--address", address});
  EXPECT_EQ(started.exit_code, 0) << started.err;
  EXPECT_EQ(started.out, "cli-saga-1\n");

  CommandOutput waited = RunSkald(
      scratch, {"saga", "wait", "cli-saga-1", "--json", "--timeout", "30s", "--address", address});
  ASSERT_EQ(waited.exit_code, 0) << waited.err;
  nlohmann::json saga = nlohmann::json::parse(waited.out);
  EXPECT_EQ(saga["id"], "cli-saga-1");
  EXPECT_EQ(saga["definition"], "order");
  EXPECT_EQ(saga["version"], 2);
  EXPECT_EQ(saga["state"], "COMPENSATED");
  ASSERT_EQ(saga["steps"].size(), 4u);
  EXPECT_EQ(saga["steps"][2]["name"], "charge-payment");
  EXPECT_EQ(saga["steps"][2]["state"], "FAILED");
  EXPECT_EQ(saga["steps"][2]["attempts"], 1);
  EXPECT_NE(saga["steps"][2]["error"].get<std::string>().find("card_declined"), std::string::npos);
  EXPECT_EQ(saga["steps"][0]["output"]["order_id"], "cli-1");

  CommandOutput table = RunSkald(scratch, {"saga", "get", "cli-saga-1", "--address", address});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("COMPENSATED"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("charge-payment"), std::string::npos) << table.out;

  CommandOutput listed = RunSkald(scratch, {"saga", "list", "--json", "--address", address});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  nlohmann::json page = nlohmann::json::parse(listed.out);
  ASSERT_EQ(page["sagas"].size(), 1u);
  EXPECT_EQ(page["sagas"][0]["id"], "cli-saga-1");

  CommandOutput filtered =
      RunSkald(scratch, {"saga", "list", "--state", "COMPLETED", "--json", "--address", address});
  EXPECT_TRUE(nlohmann::json::parse(filtered.out)["sagas"].empty()) << filtered.out;

  CommandOutput missing = RunSkald(scratch, {"saga", "get", "nope", "--address", address});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "error: NOT_FOUND: no saga with id \"nope\"\n");
  EXPECT_TRUE(missing.out.empty());

  CommandOutput bad_state =
      RunSkald(scratch, {"saga", "list", "--state", "DONE", "--address", address});
  EXPECT_EQ(bad_state.exit_code, 2);
  EXPECT_NE(bad_state.err.find("unknown state \"DONE\""), std::string::npos);
}

TEST(SkaldCli, ServerLimitsAreConfigurable) {
  auto dir = TempDir::Create("skald-limits-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string scratch = dir->path();
  auto db = FreshDatabase("limits");
  ASSERT_TRUE(db.ok()) << db.status();
  auto coordinator = ChildProcess::Spawn(
      {SKALD_BINARY, "serve", "--db", *db, "--listen", "127.0.0.1:0", "--ready-file",
       dir->File("ready"), "--max-steps", "1", "--max-input-bytes", "64"},
      dir->File("coordinator.log"));
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  auto address = WaitForReadyFile(dir->File("ready"), absl::Seconds(30), coordinator->get());
  ASSERT_TRUE(address.ok()) << address.status();

  const std::string two_steps = dir->File("two.json");
  std::ofstream(two_steps) << R"({"name": "two", "version": 1, "steps": [
      {"name": "a", "participant": "127.0.0.1:1", "action": "a"},
      {"name": "b", "participant": "127.0.0.1:1", "action": "b"}]})";
  CommandOutput refused =
      RunSkald(scratch, {"definition", "apply", two_steps, "--address", *address});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err,
            "error: INVALID_ARGUMENT: definition: steps: has 2 steps, over the limit of 1 "
            "(--max-steps)\n");

  const std::string one_step = dir->File("one.json");
  std::ofstream(one_step) << R"({"name": "one", "version": 1, "steps": [
      {"name": "a", "participant": "127.0.0.1:1", "action": "a"}]})";
  EXPECT_EQ(RunSkald(scratch, {"definition", "apply", one_step, "--address", *address}).exit_code,
            0);
  CommandOutput too_big =
      RunSkald(scratch, {"saga", "start", "one", "--input",
                         "{\"pad\": \"" + std::string(100, 'x') + "\"}", "--address", *address});
  EXPECT_EQ(too_big.exit_code, 1);
  EXPECT_NE(
      too_big.err.find(
          "RESOURCE_EXHAUSTED: input_json: 111 bytes, over the limit of 64 (--max-input-bytes)"),
      std::string::npos)
      << too_big.err;
}

// The database URI holds a password: `serve` takes it from SKALD_DB, out of the process
// list, and says where it looked when it has none.
TEST(SkaldCli, ServeTakesTheDatabaseFromTheEnvironment) {
  auto dir = TempDir::Create("skald-env-db-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto db = FreshDatabase("envdb");
  ASSERT_TRUE(db.ok()) << db.status();
  ChildProcessOptions options;
  options.argv = {SKALD_BINARY,  "serve",        "--listen",
                  "127.0.0.1:0", "--ready-file", dir->File("ready")};
  options.log_path = dir->File("coordinator.log");
  options.env = {{"SKALD_DB", *db}};
  auto coordinator = ChildProcess::Spawn(options);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  auto address = WaitForReadyFile(dir->File("ready"), absl::Seconds(30), coordinator->get());
  ASSERT_TRUE(address.ok()) << address.status();
  CommandOutput listed = RunSkald(dir->path(), {"saga", "list", "--address", *address});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  std::ifstream cmdline("/proc/" + std::to_string((*coordinator)->pid()) + "/cmdline");
  const std::string shown((std::istreambuf_iterator<char>(cmdline)),
                          std::istreambuf_iterator<char>());
  EXPECT_EQ(shown.find(*db), std::string::npos) << "the URI is not in the process list";

  CommandOutput without = RunSkald(dir->path(), {"serve", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(without.exit_code, 2);
  const std::string said = without.out + without.err;  // the coordinator's log
  EXPECT_NE(said.find("no database: give --db URI, or set SKALD_DB"), std::string::npos) << said;
}

TEST(SkaldCli, ReportsAnUnreachableCoordinator) {
  auto dir = TempDir::Create("skald-cli-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string scratch = dir->path();
  CommandOutput result = RunSkald(scratch, {"saga", "list", "--address", "127.0.0.1:1"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("UNAVAILABLE"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("is the coordinator running at 127.0.0.1:1?"), std::string::npos);
}

}  // namespace
}  // namespace skald::testing
