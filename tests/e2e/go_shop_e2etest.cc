// The Go shop end to end (issue 16): one saga spans Go participants (orders, products, users
// on the Go SDK, examples/go-shop) and the C++ payment-service (examples/order-saga), all
// registered as services with a real `skald serve` on loopback, the shop's tables in one
// fresh database. Killing one of two Go products instances mid-run fails no saga; a step
// declined in either language compensates the steps done in the other.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>

#include "tests/e2e/coordinator_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using nlohmann::json;

constexpr int kInitialWidgets = 100;
constexpr int kAdaCredit = 1000;
constexpr int kBobCredit = 3;
constexpr int kCardLimit = 1000;

class GoShopTest : public ::testing::Test {
 protected:
  struct Participant {
    std::vector<std::string> argv;  // without --listen and --ready-file
    std::unique_ptr<ChildProcess> process;
    std::string address;
  };

  void SetUp() override {
    auto dir = TempDir::Create("skald-go-shop-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto coordinator_db = FreshDatabase("coordinator");
    ASSERT_TRUE(coordinator_db.ok()) << coordinator_db.status();
    auto shop_db = FreshDatabase("goshop");
    ASSERT_TRUE(shop_db.ok()) << shop_db.status();
    shop_db_ = *shop_db;
    coordinator_ =
        std::make_unique<CoordinatorProcess>(dir_->path(), *coordinator_db, CoordinatorFlags());
    ASSERT_TRUE(coordinator_->Start().ok());

    const std::string go = GO_SHOP_SERVICE_BINARY;
    participants_["orders"] = {{go, "orders"}};
    participants_["products"] = {
        {go, "products", "--stock", "widget=" + std::to_string(kInitialWidgets)}};
    participants_["products.1"] = {{go, "products"}};
    participants_["users"] = {{go, "users", "--wallet", "ada=" + std::to_string(kAdaCredit),
                               "--wallet", "bob=" + std::to_string(kBobCredit)}};
    participants_["payment"] = {{PAYMENT_SERVICE_BINARY, "--limit", std::to_string(kCardLimit)}};
    // The Go products instances share the stock table: the second one starts after the first
    // filled it, and seeds nothing itself.
    for (const char* name : {"orders", "products", "products.1", "users", "payment"}) {
      ASSERT_TRUE(StartParticipant(name).ok()) << name;
    }
    ASSERT_TRUE(WaitForRegistrations(5).ok()) << coordinator_->LogTail();

    std::ifstream in(GO_SHOP_DEFINITION);
    json definition = json::parse(in);
    for (json& step : definition["steps"]) {
      step["retry"] = {{"max_attempts", 4}, {"initial_interval", "50ms"}, {"max_interval", "50ms"}};
      step["compensation_retry"] = {
          {"max_attempts", 100}, {"initial_interval", "50ms"}, {"max_interval", "200ms"}};
      step["attempt_timeout"] = "2s";
    }
    const grpc::Status applied = coordinator_->Apply(definition);
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }

  // Extra `skald serve` flags.
  virtual std::vector<std::string> CoordinatorFlags() const { return {}; }

  absl::Status StartParticipant(const std::string& name) {
    Participant& p = participants_.at(name);
    const std::string ready = dir_->path() + "/" + name + ".ready." + std::to_string(++starts_);
    std::vector<std::string> argv = p.argv;
    argv.insert(argv.end(), {"--db", shop_db_, "--listen", "127.0.0.1:0", "--ready-file", ready,
                             "--register-with", coordinator_->address()});
    auto started = SpawnAndWaitReady(
        argv, dir_->path() + "/" + name + ".log." + std::to_string(starts_), ready);
    if (!started.ok()) return started.status();
    p.process = std::move(started->process);
    p.address = started->address;
    return absl::OkStatus();
  }

  // Waits until `count` instances are registered, then for the coordinator's directory to
  // reload them (every second).
  absl::Status WaitForRegistrations(int count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (coordinator_->Count(
               "SELECT count(*) FROM participant_instances WHERE expires_at > now()") < count) {
      if (absl::Now() > deadline)
        return absl::DeadlineExceededError("participants did not register");
      absl::SleepFor(absl::Milliseconds(50));
    }
    absl::SleepFor(absl::Milliseconds(1200));
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Saga> RunOrder(const json& input) {
    auto id = coordinator_->StartSaga("shop-order", input);
    if (!id.ok()) return id.status();
    return coordinator_->WaitForEnd(*id, absl::Seconds(60));
  }

  long long Shop(const std::string& sql, const std::string& param = "") {
    return QueryCount(shop_db_, sql, param);
  }

  // How many calls of `handler` participant `name` logged (every delivery, before the barrier).
  int Calls(const std::string& name, const std::string& handler) {
    std::ifstream in(participants_.at(name).process->log_path());
    int calls = 0;
    for (std::string line; std::getline(in, line);)
      calls += line.find("handler=" + handler + " ") != std::string::npos;
    return calls;
  }
  int ReserveCalls(const std::string& name) { return Calls(name, "reserve"); }

  std::string StepStates(const v1::Saga& saga) {
    std::string states;
    for (const v1::Step& step : saga.steps()) {
      states += (states.empty() ? "" : " ") + step.name() + "=" + StateName(step.state());
    }
    return states;
  }

  std::unique_ptr<TempDir> dir_;
  std::string shop_db_;
  std::unique_ptr<CoordinatorProcess> coordinator_;
  std::map<std::string, Participant> participants_;
  int starts_ = 0;
};

json Order(int n, const std::string& customer = "ada", int amount = 10, int credit = 5) {
  return {{"order_id", "order-" + std::to_string(n)},
          {"customer", customer},
          {"sku", "widget"},
          {"quantity", 1},
          {"amount", amount},
          {"credit", credit}};
}

TEST_F(GoShopTest, SagasAcrossGoAndCppCompleteWhileAGoInstanceIsKilled) {
  constexpr int kOrders = 30;
  constexpr int kKillAfter = 10;
  std::vector<std::string> ids;
  for (int n = 0; n < kOrders; ++n) {
    if (n == kKillAfter) {
      // Both Go products instances have served reservations by now...
      EXPECT_GT(ReserveCalls("products"), 0);
      EXPECT_GT(ReserveCalls("products.1"), 0);
      // ...then one dies without a word, with sagas in flight.
      ASSERT_TRUE(participants_.at("products.1").process->Kill().ok());
      ASSERT_TRUE(participants_.at("products.1").process->WaitForExit(absl::Seconds(10)));
    }
    auto id = coordinator_->StartSaga("shop-order", Order(n));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
    absl::SleepFor(absl::Milliseconds(20));  // a steady trickle, so the kill lands mid-run
  }
  for (const std::string& id : ids) {
    auto saga = coordinator_->WaitForEnd(id, absl::Seconds(60));
    ASSERT_TRUE(saga.ok()) << saga.status();
    EXPECT_EQ(StateName(saga->state()), "COMPLETED")
        << saga->DebugString() << coordinator_->LogTail();
  }
  // Go's tables...
  EXPECT_EQ(Shop("SELECT quantity FROM shop_products.stock WHERE sku = 'widget'"),
            kInitialWidgets - kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_products.reservations WHERE status = 'RESERVED'"),
            kOrders);
  EXPECT_EQ(Shop("SELECT credit FROM shop_users.wallets WHERE user_id = 'ada'"),
            kAdaCredit - 5 * kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_users.debits WHERE status = 'DEBITED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_orders.orders WHERE status = 'CONFIRMED'"), kOrders);
  // ...and C++'s, in the same database.
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), kOrders);
  EXPECT_EQ(Shop("SELECT coalesce(sum(amount), 0)::bigint FROM payments.charges"), 10 * kOrders);
  // Both languages' barriers kept their records in the one skald.barrier table.
  EXPECT_EQ(Shop("SELECT count(*) FROM skald.barrier WHERE phase = 'action'"
                 " AND outcome = 'success' AND handler = 'charge'"),
            kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM skald.barrier WHERE phase = 'action'"
                 " AND outcome = 'success' AND handler = 'reserve'"),
            kOrders);
}

TEST_F(GoShopTest, ACardDeclinedInCppCompensatesTheGoSteps) {
  auto saga = RunOrder(Order(1, "ada", /*amount=*/kCardLimit + 1));
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED") << saga->DebugString();
  EXPECT_EQ(StepStates(*saga),
            "create-order=COMPENSATED reserve-stock=COMPENSATED charge-card=FAILED "
            "use-credit=PENDING confirm-order=PENDING")
      << saga->DebugString();
  EXPECT_NE(saga->steps(2).error().find("card_declined"), std::string::npos) << saga->DebugString();
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_orders.orders"
                 " WHERE order_id = 'order-1' AND status = 'CANCELLED'"),
            1);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_products.reservations WHERE status = 'RELEASED'"), 1);
  EXPECT_EQ(Shop("SELECT quantity FROM shop_products.stock WHERE sku = 'widget'"), kInitialWidgets);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges"), 0);
  EXPECT_EQ(Shop("SELECT credit FROM shop_users.wallets WHERE user_id = 'ada'"), kAdaCredit);
}

TEST_F(GoShopTest, CreditRefusedInGoRefundsTheCppCharge) {
  auto saga = RunOrder(Order(2, "bob", /*amount=*/40, /*credit=*/kBobCredit + 1));
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED") << saga->DebugString();
  EXPECT_EQ(StepStates(*saga),
            "create-order=COMPENSATED reserve-stock=COMPENSATED charge-card=COMPENSATED "
            "use-credit=FAILED confirm-order=PENDING")
      << saga->DebugString();
  EXPECT_NE(saga->steps(3).error().find("insufficient_credit"), std::string::npos)
      << saga->DebugString();
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'REFUNDED'"), 1);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), 0);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_orders.orders WHERE status = 'CANCELLED'"), 1);
  EXPECT_EQ(Shop("SELECT quantity FROM shop_products.stock WHERE sku = 'widget'"), kInitialWidgets);
  EXPECT_EQ(Shop("SELECT credit FROM shop_users.wallets WHERE user_id = 'bob'"), kBobCredit);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_users.debits"), 0);
}

TEST_F(GoShopTest, AnOrderWithoutCreditSkipsTheWallet) {
  auto saga = RunOrder(Order(3, "ada", /*amount=*/25, /*credit=*/0));
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPLETED") << saga->DebugString();
  EXPECT_EQ(StateName(saga->steps(3).state()), "SKIPPED") << saga->DebugString();
  EXPECT_EQ(Shop("SELECT credit FROM shop_users.wallets WHERE user_id = 'ada'"), kAdaCredit);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), 1);
}

// The coordinator delivers every participant call twice, both copies in flight at once: the
// Go and the C++ barriers keep every table exactly right.
class GoShopDuplicateCallsTest : public GoShopTest {
 protected:
  std::vector<std::string> CoordinatorFlags() const override { return {"--test-duplicate-calls"}; }
};

TEST_F(GoShopDuplicateCallsTest, EveryEffectHappensOnceAcrossLanguages) {
  constexpr int kOrders = 6;
  std::vector<std::string> ids;
  for (int n = 0; n < kOrders; ++n) {
    auto id = coordinator_->StartSaga("shop-order", Order(n));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  auto refused = coordinator_->StartSaga("shop-order", Order(kOrders, "bob", 40, kBobCredit + 1));
  ASSERT_TRUE(refused.ok()) << refused.status();
  for (const std::string& id : ids) {
    auto saga = coordinator_->WaitForEnd(id, absl::Seconds(60));
    ASSERT_TRUE(saga.ok()) << saga.status();
    EXPECT_EQ(StateName(saga->state()), "COMPLETED") << saga->DebugString();
  }
  auto saga = coordinator_->WaitForEnd(*refused, absl::Seconds(60));
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED") << saga->DebugString();

  // The duplicates did arrive, at the Go services and at the C++ one...
  EXPECT_GE(Calls("orders", "create"), 2 * (kOrders + 1));
  EXPECT_GE(Calls("users", "debit"), 2 * (kOrders + 1));
  EXPECT_GE(Calls("orders", "cancel"), 2);
  // ...and every effect happened once.
  EXPECT_EQ(Shop("SELECT quantity FROM shop_products.stock WHERE sku = 'widget'"),
            kInitialWidgets - kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_products.reservations"), kOrders + 1);
  EXPECT_EQ(Shop("SELECT credit FROM shop_users.wallets WHERE user_id = 'ada'"),
            kAdaCredit - 5 * kOrders);
  EXPECT_EQ(Shop("SELECT credit FROM shop_users.wallets WHERE user_id = 'bob'"), kBobCredit);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_orders.orders WHERE status = 'CONFIRMED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM shop_orders.orders WHERE status = 'CANCELLED'"), 1);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'CHARGED'"), kOrders);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges WHERE status = 'REFUNDED'"), 1);
}

}  // namespace
}  // namespace skald::testing
