// Participant discovery end to end (issue 5): the example participants register with the
// coordinator as services, the definition names services, and calls spread over two
// inventory instances. Killing one mid-run fails no saga; a stopped one deregisters.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>

#include "tests/e2e/order_system.h"
#include "tests/e2e/skald_command.h"

namespace skald::testing {
namespace {

using nlohmann::json;

json NumberedOrder(int n) {
  return {{"order_id", "order-" + std::to_string(n)},
          {"customer", "ada"},
          {"sku", "widget"},
          {"quantity", 1},
          {"amount", 100}};
}

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OrderSystem::Options options;
    options.discovery = true;
    options.inventory_instances = 2;
    auto system = OrderSystem::Start(std::move(options));
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system);
  }

  // `skald participant list --json`, as an operator would run it.
  json Participants(const std::string& service = "") {
    std::vector<std::string> args = {"participant", "list", "--json", "--address",
                                     system_->coordinator_address()};
    if (!service.empty()) args.insert(args.end(), {"--service", service});
    CommandOutput listed = RunSkald(system_->dir(), args);
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    return listed.exit_code == 0 ? json::parse(listed.out) : json::array();
  }

  // Inventory instance address -> health, from the coordinator's listing.
  std::map<std::string, std::string> InventoryHealth() {
    std::map<std::string, std::string> health;
    for (const json& instance : Participants("inventory")) {
      health[instance["address"]] = instance["health"];
    }
    return health;
  }

  long long Shop(const std::string& sql) { return system_->ShopCount(sql); }

  std::unique_ptr<OrderSystem> system_;
};

TEST_F(DiscoveryTest, ParticipantsRegisterAsServicesWithTheirHandlers) {
  const json all = Participants();
  ASSERT_EQ(all.size(), 4u) << all.dump(2);
  std::map<std::string, int> per_service;
  for (const json& instance : all) ++per_service[instance["service"]];
  EXPECT_EQ(per_service,
            (std::map<std::string, int>{{"inventory", 2}, {"order", 1}, {"payment", 1}}));
  for (const json& instance : Participants("inventory")) {
    EXPECT_EQ(instance["actions"], json({"reserve"}));
    EXPECT_EQ(instance["compensations"], json({"release"}));
    EXPECT_EQ(instance["health"], "unknown") << "not called yet";
    EXPECT_FALSE(instance["instance_id"].get<std::string>().empty());
  }
  const json order = Participants("order");
  ASSERT_EQ(order.size(), 1u);
  EXPECT_EQ(order[0]["address"], system_->ParticipantAddress(Service::kOrder));
}

TEST_F(DiscoveryTest, CallsSpreadOverInstancesAndLosingOneFailsNoSaga) {
  constexpr int kOrders = 30;
  constexpr int kKillAfter = 10;
  std::vector<std::string> ids;
  for (int n = 0; n < kOrders; ++n) {
    if (n == kKillAfter) {
      // Both instances have served reservations by now...
      EXPECT_EQ(InventoryHealth(),
                (std::map<std::string, std::string>{
                    {system_->ParticipantAddress(Service::kInventory, 0), "healthy"},
                    {system_->ParticipantAddress(Service::kInventory, 1), "healthy"}}));
      // ...then one dies without a word, with sagas in flight.
      ASSERT_TRUE(system_->StopParticipant(Service::kInventory, SIGKILL, 1).ok());
    }
    auto id = system_->StartOrder(NumberedOrder(n));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
    absl::SleepFor(absl::Milliseconds(20));  // a steady trickle, so the kill lands mid-run
  }
  for (const std::string& id : ids) {
    auto saga = system_->WaitForEnd(id, absl::Seconds(60));
    ASSERT_TRUE(saga.ok()) << saga.status();
    EXPECT_EQ(StateName(saga->state()), "COMPLETED")
        << saga->DebugString() << system_->LogTail("coordinator");
  }
  EXPECT_EQ(Shop("SELECT quantity FROM inventory.stock WHERE sku = 'widget'"),
            kInitialWidgets - kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM inventory.reservations WHERE status = 'RESERVED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'CONFIRMED'"), kOrders);
}

TEST_F(DiscoveryTest, AGracefullyStoppedInstanceDeregistersAtOnce) {
  const std::string leaving = system_->ParticipantAddress(Service::kInventory, 1);
  ASSERT_EQ(InventoryHealth().count(leaving), 1u);
  ASSERT_TRUE(system_->StopParticipant(Service::kInventory, SIGTERM, 1).ok());
  // Deregistered on the way out, not left to expire (the TTL is 10 s).
  EXPECT_EQ(InventoryHealth(),
            (std::map<std::string, std::string>{
                {system_->ParticipantAddress(Service::kInventory, 0), "unknown"}}));
  auto id = system_->StartOrder(NumberedOrder(1));
  ASSERT_TRUE(id.ok()) << id.status();
  auto saga = system_->WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPLETED");

  // Restarted, it registers again and takes its turn.
  ASSERT_TRUE(system_->StartParticipant(Service::kInventory, 1).ok());
  EXPECT_EQ(InventoryHealth().size(), 2u);
}

TEST_F(DiscoveryTest, AServiceWithNoLiveInstanceIsRetriedUntilOneRegisters) {
  json definition = system_->FastDefinition();
  definition["version"] = 2;
  definition["steps"][2]["retry"] = {
      {"max_attempts", 60}, {"initial_interval", "100ms"}, {"max_interval", "200ms"}};
  ASSERT_TRUE(system_->Apply(definition).ok());
  ASSERT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());
  auto id = system_->StartOrder(NumberedOrder(1));
  ASSERT_TRUE(id.ok()) << id.status();
  auto waiting = system_->WaitFor(
      *id,
      [](const v1::Saga& saga) {
        return saga.steps(2).attempts() >= 2 &&
               saga.steps(2).error().find("no live instance of service \"payment\"") !=
                   std::string::npos;
      },
      absl::Seconds(10));
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  auto saga = system_->WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPLETED");
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), 1);
}

}  // namespace
}  // namespace skald::testing
