// Fault injection with several coordinators on one database: takeover after a crash,
// handover at shutdown, and fencing of a coordinator that was paused past its lease.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "tests/e2e/order_system.h"

namespace skald::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kLeaseTtl = "2s";

json Order(const std::string& id) {
  return {
      {"order_id", id}, {"customer", "ada"}, {"sku", "widget"}, {"quantity", 2}, {"amount", 150}};
}

class CoordinatorsTest : public ::testing::Test {
 protected:
  // The example participants, and two coordinators "a" and "b" on one database in place of
  // the system's own.
  void SetUp() override {
    auto system = OrderSystem::Start();
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system);
    ASSERT_TRUE(system_->coordinator().Stop(SIGTERM).ok());
    for (const char* name : {"a", "b"}) {
      const std::string dir = system_->dir() + "/" + name;
      ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
      coordinators_.push_back(std::make_unique<CoordinatorProcess>(
          dir, system_->coordinator().db_uri(),
          std::vector<std::string>{"--node-id", name, "--lease-ttl", kLeaseTtl}));
      ASSERT_TRUE(coordinators_.back()->Start().ok());
    }
    // Payment is retried for about 10 s, so that tests can keep the service away.
    json definition = system_->FastDefinition();
    definition["version"] = 2;
    definition["steps"][2]["retry"] = {
        {"max_attempts", 60}, {"initial_interval", "100ms"}, {"max_interval", "200ms"}};
    ASSERT_TRUE(a().Apply(definition).ok());
  }

  CoordinatorProcess& a() { return *coordinators_[0]; }
  CoordinatorProcess& b() { return *coordinators_[1]; }

  // Starts an order through `a` while payment is down, and waits until `a` is retrying it.
  std::string StartStuckOrder(const std::string& order_id) {
    EXPECT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());
    auto id = a().StartSaga("order", Order(order_id));
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return "";
    EXPECT_TRUE(
        a().WaitFor(
               *id, [](const v1::Saga& s) { return s.steps(2).attempts() >= 2; }, absl::Seconds(20))
            .ok());
    EXPECT_EQ(Owner(*id), "a");
    return *id;
  }

  std::string Owner(const std::string& saga_id) {
    return a().Count("SELECT count(*) FROM sagas WHERE id = $1 AND owner = 'a'", saga_id) == 1 ? "a"
           : a().Count("SELECT count(*) FROM sagas WHERE id = $1 AND owner = 'b'", saga_id) == 1
               ? "b"
               : "?";
  }

  // Waits (at most `timeout`) until `b` holds the saga's lease; returns how long it took.
  std::optional<std::chrono::milliseconds> WaitForTakeover(const std::string& saga_id,
                                                           std::chrono::seconds timeout) {
    const auto start = Clock::now();
    while (Clock::now() - start < timeout) {
      if (Owner(saga_id) == "b") {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  void ExpectCompletedWithOneCharge(const std::string& saga_id) {
    auto saga = b().WaitForEnd(saga_id);
    ASSERT_TRUE(saga.ok()) << saga.status();
    EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED) << saga->DebugString();
    EXPECT_EQ(system_->ShopCount("SELECT count(*) FROM payments.charges WHERE status = "
                                 "'CHARGED'"),
              1);
    EXPECT_EQ(system_->ShopCount("SELECT count(*) FROM orders.orders WHERE status = "
                                 "'CONFIRMED'"),
              1);
  }

  std::unique_ptr<OrderSystem> system_;
  std::vector<std::unique_ptr<CoordinatorProcess>> coordinators_;
};

TEST_F(CoordinatorsTest, TheSurvivorFinishesTheSagasOfAKilledCoordinator) {
  const std::string id = StartStuckOrder("o-kill");
  ASSERT_TRUE(a().Stop(SIGKILL).ok());
  auto takeover = WaitForTakeover(id, std::chrono::seconds(15));
  ASSERT_TRUE(takeover.has_value()) << b().LogTail();
  // The lease (2 s) must run out first; then b claims within its claim interval (1 s).
  EXPECT_LT(*takeover, std::chrono::milliseconds(4000));
  std::printf("takeover after SIGKILL: %lld ms (lease ttl %s)\n",
              static_cast<long long>(takeover->count()), kLeaseTtl);
  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  ExpectCompletedWithOneCharge(id);
}

TEST_F(CoordinatorsTest, AStoppedCoordinatorHandsItsSagasOverAtOnce) {
  const std::string id = StartStuckOrder("o-handover");
  const auto stop = Clock::now();
  ASSERT_TRUE(a().Stop(SIGTERM).ok());
  EXPECT_EQ(a().last_exit_status(), 0);
  auto takeover = WaitForTakeover(id, std::chrono::seconds(15));
  ASSERT_TRUE(takeover.has_value()) << b().LogTail();
  const auto since_stop =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stop);
  // Released, not expired: well before the 2 s lease could have run out.
  EXPECT_LT(*takeover, std::chrono::milliseconds(1500));
  std::printf("takeover after SIGTERM: %lld ms after exit, %lld ms after the signal\n",
              static_cast<long long>(takeover->count()),
              static_cast<long long>(since_stop.count()));
  EXPECT_NE(a().Log().find("releas"), std::string::npos) << a().Log();
  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  ExpectCompletedWithOneCharge(id);
}

TEST_F(CoordinatorsTest, APausedCoordinatorsLateWritesAreRefused) {
  const std::string id = StartStuckOrder("o-pause");
  ASSERT_TRUE(a().Signal(SIGSTOP).ok());
  auto takeover = WaitForTakeover(id, std::chrono::seconds(15));
  ASSERT_TRUE(takeover.has_value()) << b().LogTail();
  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  ExpectCompletedWithOneCharge(id);
  const long long events = a().Count("SELECT count(*) FROM saga_events WHERE saga_id = $1", id);

  // a wakes up with its retry timer long due: its commit carries the old lease token.
  ASSERT_TRUE(a().Signal(SIGCONT).ok());
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  while (a().Log().find("lease lost") == std::string::npos && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(a().Log().find("saga " + id + ": lease lost to another coordinator"), std::string::npos)
      << a().Log();
  // Nothing a wrote after losing the lease reached the database.
  EXPECT_EQ(a().Count("SELECT count(*) FROM saga_events WHERE saga_id = $1", id), events);
  auto saga = b().GetSaga(id);
  ASSERT_TRUE(saga.ok());
  EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED);
  EXPECT_EQ(system_->ShopCount("SELECT count(*) FROM payments.charges"), 1);
  EXPECT_TRUE(a().Signal(0).ok()) << "a must still be running";
}

TEST_F(CoordinatorsTest, AnOperatorActionThroughAnotherCoordinatorTakesTheSagaOver) {
  const std::string id = StartStuckOrder("o-operator");
  ASSERT_FALSE(id.empty());
  // The operator's CLI happens to reach `b`, while `a` drives the saga.
  v1::OperatorActionRequest request;
  request.set_saga_id(id);
  request.set_operator_("ada");
  request.set_reason("customer cancelled");
  v1::OperatorActionResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  grpc::Status aborted = b().client().AbortSaga(&context, request, &response);
  ASSERT_TRUE(aborted.ok()) << aborted.error_message();
  EXPECT_EQ(Owner(id), "b") << "b took the lease to carry the action out";
  EXPECT_EQ(response.saga().state(), v1::SAGA_STATE_COMPENSATING);

  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  auto saga = b().WaitForEnd(id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPENSATED) << saga->DebugString();
  EXPECT_EQ(system_->ShopCount("SELECT count(*) FROM payments.charges"), 0);
  EXPECT_EQ(system_->ShopCount("SELECT count(*) FROM orders.orders WHERE status = 'CANCELLED'"), 1);
  EXPECT_EQ(system_->ShopCount("SELECT quantity FROM inventory.stock WHERE sku = 'widget'"),
            kInitialWidgets);
  // `a`, fenced, wrote nothing after the takeover: the abort is recorded once, and no step
  // moved after the saga ended.
  EXPECT_EQ(a().Count("SELECT count(*) FROM saga_events WHERE saga_id = $1 AND type = "
                      "'operator_abort'",
                      id),
            1);
  EXPECT_TRUE(a().Signal(0).ok()) << "a must still be running";
}

}  // namespace
}  // namespace skald::testing
