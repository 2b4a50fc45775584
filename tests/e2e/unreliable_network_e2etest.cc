// The network misbehaves, the participants stay exactly right (issue 5, SCENARIOS row 8).
// The coordinator's test switches duplicate every participant call (both copies in flight at
// once) and hold the payment action back until after its compensation. The order example's
// participants run their handlers behind the SDK's barrier; their tables must show exactly
// one effect per saga that completed and none for one that was compensated.
#include <gtest/gtest.h>

#include "tests/e2e/order_system.h"

namespace skald::testing {
namespace {

using nlohmann::json;

constexpr int kOrders = 6;

json UnreliableNetworkOrder(int n) {
  return {{"order_id", "order-" + std::to_string(n)},
          {"customer", "ada"},
          {"sku", "widget"},
          {"quantity", 1},
          {"amount", 100}};
}

class UnreliableNetworkTest : public ::testing::Test {
 protected:
  void StartSystem(std::vector<std::string> coordinator_flags) {
    OrderSystem::Options options;
    options.coordinator_flags = std::move(coordinator_flags);
    auto system = OrderSystem::Start(std::move(options));
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system);
  }

  // Starts kOrders sagas and waits for each to end; returns them.
  std::vector<v1::Saga> RunOrders() {
    std::vector<std::string> ids;
    for (int n = 0; n < kOrders; ++n) {
      auto id = system_->StartOrder(UnreliableNetworkOrder(n));
      EXPECT_TRUE(id.ok()) << id.status();
      if (id.ok()) ids.push_back(*id);
    }
    std::vector<v1::Saga> sagas;
    for (const std::string& id : ids) {
      auto saga = system_->WaitForEnd(id, absl::Seconds(60));
      EXPECT_TRUE(saga.ok()) << saga.status() << "\n" << system_->LogTail("coordinator");
      if (saga.ok()) sagas.push_back(*saga);
    }
    return sagas;
  }

  long long Shop(const std::string& sql) { return system_->ShopCount(sql); }

  // Polls (every 100 ms, at most `timeout`) until the payment service logged `expected`
  // deliveries of handler "charge" (it logs every call it receives, barrier or not).
  int AwaitChargeDeliveries(int expected, absl::Duration timeout) {
    const absl::Time give_up = absl::Now() + timeout;
    int count = system_->CountLogLines(Service::kPayment, "handler=charge ");
    while (count < expected && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(100));
      count = system_->CountLogLines(Service::kPayment, "handler=charge ");
    }
    return count;
  }

  std::unique_ptr<OrderSystem> system_;
};

TEST_F(UnreliableNetworkTest, EveryCallDeliveredTwiceAppliesEachEffectOnce) {
  StartSystem({"--test-duplicate-calls"});
  for (const v1::Saga& saga : RunOrders()) {
    EXPECT_EQ(StateName(saga.state()), "COMPLETED") << saga.DebugString();
  }
  // The switch really doubled the deliveries (the second copies may still be arriving).
  EXPECT_GE(AwaitChargeDeliveries(2 * kOrders, absl::Seconds(5)), 2 * kOrders)
      << system_->LogTail("payment");
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'CONFIRMED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders"), kOrders);
  EXPECT_EQ(Shop("SELECT quantity FROM inventory.stock WHERE sku = 'widget'"),
            kInitialWidgets - kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM inventory.reservations WHERE status = 'RESERVED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM skald.barrier WHERE phase = 'action' AND origin = "
                 "'handler' AND outcome = 'success'"),
            4 * kOrders)
      << "one barrier record per step and saga, however many deliveries";
  EXPECT_EQ(Shop("SELECT count(*) FROM skald.barrier WHERE phase = 'compensation'"), 0);
}

TEST_F(UnreliableNetworkTest, ACompensationThatOvertakesItsActionLeavesNoEffect) {
  // Payment actions arrive 1.5 s late, duplicated; the coordinator gives each attempt 300 ms
  // and two attempts, then compensates: the refund reaches payment before either charge.
  StartSystem({"--test-duplicate-calls", "--test-late-action", "charge-payment:1500ms"});
  json definition = system_->FastDefinition();
  definition["version"] = 2;
  definition["steps"][2]["retry"] = {
      {"max_attempts", 2}, {"initial_interval", "50ms"}, {"max_interval", "50ms"}};
  definition["steps"][2]["attempt_timeout"] = "300ms";
  grpc::Status applied = system_->Apply(definition);
  ASSERT_TRUE(applied.ok()) << applied.error_message();

  for (const v1::Saga& saga : RunOrders()) {
    EXPECT_EQ(StateName(saga.state()), "COMPENSATED") << saga.DebugString();
  }
  // The late actions arrive after the sagas ended: wait until all of them did (two attempts,
  // two copies each), then check that none had an effect.
  EXPECT_GE(AwaitChargeDeliveries(4 * kOrders, absl::Seconds(10)), 4 * kOrders)
      << system_->LogTail("payment");
  EXPECT_EQ(Shop("SELECT count(*) FROM skald.barrier WHERE step = 'charge-payment' AND phase = "
                 "'action' AND origin = 'refused' AND error_code = 'compensated_before_action'"),
            kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM skald.barrier WHERE step = 'charge-payment' AND phase = "
                 "'compensation' AND origin = 'null_compensation'"),
            kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges"), 0) << "no charge, not even refunded";
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'CANCELLED'"), kOrders);
  EXPECT_EQ(Shop("SELECT quantity FROM inventory.stock WHERE sku = 'widget'"), kInitialWidgets);
  EXPECT_EQ(Shop("SELECT count(*) FROM inventory.reservations WHERE status = 'RELEASED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM inventory.reservations"), kOrders);
}

}  // namespace
}  // namespace skald::testing
