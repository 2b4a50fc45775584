// Many coordinators, one address list (issue 18): the `skald` CLI and the example
// participants are given the addresses of three coordinators on one database. Each
// coordinator in turn is SIGKILLed (and started again) while a `skald saga wait` is waiting,
// new sagas are started through the CLI and the participants keep their registrations: every
// coordinator the CLI and the participants were talking to dies once, and both carry on.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e/order_system.h"
#include "tests/e2e/skald_command.h"

namespace skald::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string Order(const std::string& id) {
  return json{
      {"order_id", id}, {"customer", "ada"}, {"sku", "widget"}, {"quantity", 1}, {"amount", 100}}
      .dump();
}

std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class CoordinatorListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OrderSystem::Options options;
    options.discovery = true;
    options.coordinator_flags = {"--node-id", "c0", "--lease-ttl", "2s"};
    auto system = OrderSystem::Start(std::move(options));
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system);
    for (const char* name : {"c1", "c2"}) {
      const std::string dir = system_->dir() + "/" + name;
      ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
      others_.push_back(std::make_unique<CoordinatorProcess>(
          dir, system_->coordinator().db_uri(),
          std::vector<std::string>{"--node-id", name, "--lease-ttl", "2s"}));
      ASSERT_TRUE(others_.back()->Start().ok());
    }
    list_ =
        system_->coordinator_address() + "," + others_[0]->address() + "," + others_[1]->address();
    // The participants restart registering with the whole list.
    system_->RegisterWith(list_);
    for (Service service : {Service::kOrder, Service::kInventory, Service::kPayment}) {
      ASSERT_TRUE(system_->StopParticipant(service, SIGTERM).ok());
      ASSERT_TRUE(system_->StartParticipant(service).ok());
    }
    // Payment is retried for about two minutes, so that a saga can wait for it across the kills.
    json definition = system_->FastDefinition();
    definition["version"] = 2;
    definition["steps"][2]["retry"] = {
        {"max_attempts", 600}, {"initial_interval", "100ms"}, {"max_interval", "200ms"}};
    ASSERT_TRUE(system_->Apply(definition).ok());
  }

  CoordinatorProcess& Coordinator(int i) {
    return i == 0 ? system_->coordinator() : *others_[i - 1];
  }

  // `skald saga start` through the list; returns the saga id ("" after a failure).
  std::string StartThroughList(const std::string& order_id) {
    CommandOutput started = RunSkald(
        system_->dir(), {"saga", "start", "order", "--input", Order(order_id), "--address", list_});
    EXPECT_EQ(started.exit_code, 0) << order_id << ": " << started.err;
    return started.exit_code == 0 ? started.out.substr(0, started.out.find('\n')) : "";
  }

  long long LiveRegistrations() {
    return system_->CoordinatorCount(
        "SELECT count(*) FROM participant_instances WHERE expires_at > now()");
  }

  std::unique_ptr<OrderSystem> system_;
  std::vector<std::unique_ptr<CoordinatorProcess>> others_;
  std::string list_;
};

TEST_F(CoordinatorListTest, CliAndParticipantsCarryOnWhenEachCoordinatorDiesInTurn) {
  // Registered again (the restarts register asynchronously), and seen by every coordinator's
  // instance directory (reloaded every second): else a step finds no live instance.
  for (auto limit = Clock::now() + std::chrono::seconds(20);
       LiveRegistrations() < 3 && Clock::now() < limit;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(LiveRegistrations(), 3);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // A saga that cannot end while payment is away, and a CLI waiting for it through the list.
  ASSERT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());
  const std::string stuck = StartThroughList("o-stuck");
  ASSERT_FALSE(stuck.empty());
  auto waiter = ChildProcess::Spawn(
      {SKALD_BINARY, "saga", "wait", stuck, "--json", "--timeout", "90s", "--address", list_},
      system_->dir() + "/wait.log");
  ASSERT_TRUE(waiter.ok()) << waiter.status();
  std::vector<std::string> started;
  int order = 0;
  // The first of the list dies last and stays away for longer than a registration lasts.
  for (int victim : {1, 2, 0}) {
    for (int i = 0; i < 3; ++i) started.push_back(StartThroughList("o-" + std::to_string(++order)));
    ASSERT_TRUE(Coordinator(victim).Stop(SIGKILL).ok());
    // While it is down, the CLI reaches the two others.
    for (int i = 0; i < 3; ++i) started.push_back(StartThroughList("o-" + std::to_string(++order)));
    ASSERT_FALSE((*waiter)->HasExited())
        << "saga wait ended (exit " << (*waiter)->PeekExitStatus().value_or(-1)
        << ") when coordinator " << victim << " died: " << ReadLog((*waiter)->log_path());
    if (victim != 0) {
      ASSERT_TRUE(Coordinator(victim).Start().ok());
    }
  }
  // The registrations of order and inventory (payment is away) were renewed by the
  // coordinators that were up: after a whole ttl (10 s) without the first, both are live.
  std::this_thread::sleep_for(std::chrono::seconds(11));
  EXPECT_EQ(LiveRegistrations(), 2) << "a participant lost its registration";
  ASSERT_TRUE(Coordinator(0).Start().ok());

  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  const std::optional<int> waited = (*waiter)->WaitForExit(absl::Seconds(60));
  ASSERT_TRUE(waited.has_value()) << "saga wait did not end";
  EXPECT_EQ(*waited, 0) << "saga wait failed; see " << (*waiter)->log_path();
  for (const std::string& id : started) {
    ASSERT_FALSE(id.empty());
    auto saga = system_->WaitForEnd(id, absl::Seconds(60));
    ASSERT_TRUE(saga.ok()) << saga.status();
    EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED) << saga->DebugString();
  }
  auto saga = system_->WaitForEnd(stuck, absl::Seconds(60));
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(system_->ShopCount("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"),
            static_cast<long long>(started.size()) + 1);
}

TEST_F(CoordinatorListTest, ABadListIsAUsageErrorNamingTheEntry) {
  CommandOutput listed =
      RunSkald(system_->dir(), {"saga", "list", "--address", list_ + ",127.0.0.1"});
  EXPECT_EQ(listed.exit_code, 2);
  EXPECT_NE(listed.err.find("\"127.0.0.1\": no port"), std::string::npos) << listed.err;
  listed = RunSkald(system_->dir(), {"saga", "list", "--address", list_ + ",,"});
  EXPECT_EQ(listed.exit_code, 2);
  EXPECT_NE(listed.err.find("is empty"), std::string::npos) << listed.err;
}

}  // namespace
}  // namespace skald::testing
