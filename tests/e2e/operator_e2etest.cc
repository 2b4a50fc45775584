// An operator finds a stuck saga, sees why, and fixes it from the CLI (issue 6, SCENARIOS
// row 12): history, watch, list filters, and the admin actions abort, retry and skip, each
// recorded in the saga's history with who and why. Real coordinator, real participants.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "tests/e2e/order_system.h"
#include "tests/e2e/skald_command.h"

namespace skald::testing {
namespace {

using nlohmann::json;

json OperatorOrder(const std::string& id, int amount = 150) {
  return {{"order_id", id},
          {"customer", "ada"},
          {"sku", "widget"},
          {"quantity", 2},
          {"amount", amount}};
}

class OperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto system = OrderSystem::Start();
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system);
    // Payment is retried for about 10 s, compensations give up after 4 attempts over about
    // 1.5 s: a test can hold a saga RUNNING, and make a compensation fail for good. (Longer
    // than the coordinator's 1 s reconnect backoff, so that a participant that is back is
    // reached within the budget a retry gives.)
    json definition = system_->FastDefinition();
    definition["version"] = 2;
    definition["steps"][2]["retry"] = {
        {"max_attempts", 60}, {"initial_interval", "100ms"}, {"max_interval", "200ms"}};
    for (json& step : definition["steps"]) {
      step["compensation_retry"] = {
          {"max_attempts", 4}, {"initial_interval", "300ms"}, {"max_interval", "600ms"}};
    }
    grpc::Status applied = system_->Apply(definition);
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }

  CommandOutput Skald(std::vector<std::string> args) {
    args.insert(args.end(), {"--address", system_->coordinator_address()});
    return RunSkald(system_->dir(), args);
  }

  // Starts an order that payment will decline while inventory is down when its
  // compensation is due: the saga ends FAILED, with reserve-stock COMPENSATION_FAILED.
  std::string FailedSaga() {
    EXPECT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());
    auto id = system_->StartOrder(OperatorOrder("o-stuck", /*amount=*/5000));
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return "";
    auto charging = system_->WaitFor(
        *id,
        [](const v1::Saga& s) {
          return s.steps(1).state() == v1::STEP_STATE_SUCCEEDED && s.steps(2).attempts() >= 1;
        },
        absl::Seconds(20));
    EXPECT_TRUE(charging.ok()) << charging.status();
    EXPECT_TRUE(system_->StopParticipant(Service::kInventory, SIGTERM).ok());
    EXPECT_TRUE(system_->StartParticipant(Service::kPayment).ok());
    auto failed = system_->WaitForEnd(*id);
    EXPECT_TRUE(failed.ok()) << failed.status();
    if (failed.ok()) {
      EXPECT_EQ(StateName(failed->state()), "FAILED") << failed->DebugString();
      EXPECT_EQ(StateName(failed->steps(1).state()), "COMPENSATION_FAILED");
    }
    return *id;
  }

  // The saga's history as `skald saga history --json` prints it.
  json History(const std::string& id) {
    CommandOutput out = Skald({"saga", "history", id, "--json"});
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return out.exit_code == 0 ? json::parse(out.out)["events"] : json::array();
  }

  static json FindEvent(const json& events, const std::string& type) {
    for (const json& event : events) {
      if (event["type"] == type) return event;
    }
    return nullptr;
  }

  long long Shop(const std::string& sql) { return system_->ShopCount(sql); }
  long long Widgets() { return Shop("SELECT quantity FROM inventory.stock WHERE sku = 'widget'"); }

  std::unique_ptr<OrderSystem> system_;
};

TEST_F(OperatorTest, AFailedSagaIsFoundExplainedAndRetriedAfterTheFix) {
  const std::string id = FailedSaga();
  ASSERT_FALSE(id.empty());

  // Found: the FAILED ones are listed by state.
  CommandOutput failed = Skald({"saga", "list", "--state", "FAILED"});
  EXPECT_EQ(failed.exit_code, 0) << failed.err;
  EXPECT_NE(failed.out.find(id), std::string::npos) << failed.out;

  // Explained: the history shows the compensation's attempts and why they failed.
  CommandOutput table = Skald({"saga", "history", id});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("compensation_failed"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("reserve-stock"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("saga_failed"), std::string::npos) << table.out;

  // The fix first (inventory back), then the retry.
  ASSERT_TRUE(system_->StartParticipant(Service::kInventory).ok());
  CommandOutput retried =
      Skald({"saga", "retry", id, "--operator", "ada", "--reason", "inventory is back"});
  EXPECT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_NE(retried.out.find("retry recorded"), std::string::npos) << retried.out;

  auto saga = system_->WaitForEnd(id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED") << saga->DebugString();
  EXPECT_EQ(Widgets(), kInitialWidgets) << "the stock is back";
  EXPECT_EQ(Shop("SELECT count(*) FROM inventory.reservations WHERE status = 'RELEASED'"), 1);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges"), 0);

  const json retry = FindEvent(History(id), "operator_retry");
  ASSERT_FALSE(retry.is_null());
  EXPECT_EQ(retry["detail"], json({{"operator", "ada"}, {"reason", "inventory is back"}}));

  // Retrying what is not FAILED is refused, with the reason.
  CommandOutput again = Skald({"saga", "retry", id, "--operator", "ada", "--reason", "again"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find(
                "FAILED_PRECONDITION: the saga is COMPENSATED: only a FAILED saga can be retried"),
            std::string::npos)
      << again.err;
}

TEST_F(OperatorTest, ACompensationUndoneByHandIsSkipped) {
  const std::string id = FailedSaga();
  ASSERT_FALSE(id.empty());
  // The operator puts the stock back by hand (inventory stays down), then tells Skald.
  CommandOutput typo =
      Skald({"saga", "skip", id, "reserve-stok", "--operator", "bo", "--reason", "by hand"});
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.err.find("has no step \"reserve-stok\" (did you mean \"reserve-stock\"?)"),
            std::string::npos)
      << typo.err;
  CommandOutput skipped = Skald(
      {"saga", "skip", id, "reserve-stock", "--operator", "bo", "--reason", "released by hand"});
  EXPECT_EQ(skipped.exit_code, 0) << skipped.err;

  auto saga = system_->WaitForEnd(id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED") << saga->DebugString();
  EXPECT_EQ(StateName(saga->steps(1).state()), "COMPENSATED");
  EXPECT_NE(saga->steps(1).error().find("bo: released by hand"), std::string::npos);
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'CANCELLED'"), 1);
  EXPECT_EQ(Widgets(), kInitialWidgets - 2) << "Skald did not release it: the operator did";

  const json skip = FindEvent(History(id), "operator_skip");
  ASSERT_FALSE(skip.is_null());
  EXPECT_EQ(skip["step"], "reserve-stock");
  EXPECT_EQ(skip["detail"]["operator"], "bo");
}

TEST_F(OperatorTest, AbortStopsARunningSagaAndCompensatesIt) {
  // The charge in progress when the saga is aborted may have reached payment: it is
  // compensated too, so its refund must wait for payment to come back.
  json definition = system_->FastDefinition();
  definition["version"] = 3;
  definition["steps"][2]["retry"] = {
      {"max_attempts", 60}, {"initial_interval", "100ms"}, {"max_interval", "200ms"}};
  definition["steps"][2]["compensation_retry"] = {
      {"max_attempts", 100}, {"initial_interval", "100ms"}, {"max_interval", "200ms"}};
  ASSERT_TRUE(system_->Apply(definition).ok());
  ASSERT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());
  auto id = system_->StartOrder(OperatorOrder("o-abort"));
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(
      system_
          ->WaitFor(
              *id, [](const v1::Saga& s) { return s.steps(2).attempts() >= 2; }, absl::Seconds(20))
          .ok());
  CommandOutput no_reason = Skald({"saga", "abort", *id, "--operator", "ada"});
  EXPECT_EQ(no_reason.exit_code, 2) << "--reason is required";

  CommandOutput aborted =
      Skald({"saga", "abort", *id, "--operator", "ada", "--reason", "customer cancelled"});
  EXPECT_EQ(aborted.exit_code, 0) << aborted.err;
  EXPECT_NE(aborted.out.find("is now COMPENSATING"), std::string::npos) << aborted.out;

  // Payment comes back: the refund of the charge that never arrived is a null
  // compensation, and nothing is charged.
  ASSERT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  auto saga = system_->WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPENSATED") << saga->DebugString();
  EXPECT_EQ(saga->error(), "aborted by ada: customer cancelled");
  EXPECT_EQ(Shop("SELECT count(*) FROM orders.orders WHERE status = 'CANCELLED'"), 1);
  EXPECT_EQ(Widgets(), kInitialWidgets);
  EXPECT_EQ(Shop("SELECT count(*) FROM payments.charges"), 0);

  CommandOutput twice = Skald({"saga", "abort", *id, "--operator", "ada", "--reason", "again"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("only a RUNNING saga can be aborted"), std::string::npos) << twice.err;
  EXPECT_FALSE(FindEvent(History(*id), "operator_abort").is_null());
}

TEST_F(OperatorTest, WatchStreamsEventsUntilTheSagaEnds) {
  ASSERT_TRUE(system_->StopParticipant(Service::kPayment, SIGTERM).ok());
  auto id = system_->StartOrder(OperatorOrder("o-watch"));
  ASSERT_TRUE(id.ok()) << id.status();
  // Payment returns while `watch` runs (it is a blocking command: started after a delay by
  // the shell, so that the watch sees live events and not only the stored history).
  std::thread restart([&] {
    absl::SleepFor(absl::Milliseconds(800));
    EXPECT_TRUE(system_->StartParticipant(Service::kPayment).ok());
  });
  CommandOutput watched = Skald({"saga", "watch", *id});
  restart.join();
  EXPECT_EQ(watched.exit_code, 0) << watched.err;
  EXPECT_NE(watched.out.find("saga_created"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("attempt_failed"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("saga_completed"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("ended COMPLETED"), std::string::npos) << watched.out;
}

TEST_F(OperatorTest, ListFiltersByTimeAndPages) {
  for (const char* order : {"o-1", "o-2", "o-3"}) {
    auto id = system_->StartOrder(OperatorOrder(order));
    ASSERT_TRUE(id.ok()) << id.status();
    ASSERT_TRUE(system_->WaitForEnd(*id).ok());
  }
  CommandOutput first = Skald({"saga", "list", "--since", "2000-01-01", "--limit", "2"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  const size_t token_at = first.out.find("--page-token '");
  ASSERT_NE(token_at, std::string::npos) << first.out;
  const size_t start = token_at + sizeof("--page-token '") - 1;
  const std::string token = first.out.substr(start, first.out.find('\'', start) - start);
  CommandOutput second = Skald({"saga", "list", "--limit", "2", "--page-token", token, "--json"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(json::parse(second.out)["sagas"].size(), 1u) << second.out;

  CommandOutput future = Skald({"saga", "list", "--since", "2999-01-01", "--json"});
  EXPECT_EQ(json::parse(future.out)["sagas"].size(), 0u) << future.out;
  CommandOutput bad = Skald({"saga", "list", "--since", "yesterday"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("created_after: expected an RFC 3339 time"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace skald::testing
