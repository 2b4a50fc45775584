// The notifier against a real outbox (PostgreSQL) and a scripted transport: a slow
// destination holds only its own worker, stopping cuts deliveries short and hands rows
// back, and rows are given up when their destination is refused or after max_attempts.
#include <gtest/gtest.h>

#include <condition_variable>
#include <pqxx/pqxx>
#include <thread>

#include "coordinator/core/definition_parser.h"
#include "coordinator/notify/notifier.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/outbox.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/support/test_postgres.h"

namespace skald::notify {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Answers by URL: ".../slow" waits until cancelled, ".../refused" is refused for good,
// ".../flaky" fails, anything else is delivered.
class ScriptedTransport : public WebhookTransport {
 public:
  WebhookResult Post(const WebhookRequest& request, milliseconds) override {
    if (request.url.ends_with("/refused")) {
      return {false, 0, "destination 10.0.0.1, a private address: refused", true};
    }
    if (request.url.ends_with("/flaky")) return {false, 500, "HTTP 500"};
    if (request.url.ends_with("/slow")) {
      std::unique_lock lock(mutex_);
      ++slow_in_flight_;
      cancel_.wait(lock, [this] { return cancelled_; });
      --slow_in_flight_;
      return {false, 0, "cancelled: the coordinator is shutting down"};
    }
    return {true, 200, ""};
  }
  void Cancel() override {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    cancel_.notify_all();
  }
  int slow_in_flight() {
    std::lock_guard lock(mutex_);
    return slow_in_flight_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cancel_;
  bool cancelled_ = false;
  int slow_in_flight_ = 0;
};

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = testing::FreshDatabase("notifier");
    ASSERT_TRUE(uri.ok()) << uri.status();
    pool_ = std::make_unique<store::ConnectionPool>(*uri, 4);
    ASSERT_TRUE(store::ApplyMigrations(*pool_, store::EmbeddedMigrations()).ok());
    store_ = std::make_unique<store::PostgresSagaStore>(*pool_, store::OutboxPolicy{});
    outbox_ = std::make_unique<store::OutboxStore>(*pool_);
    definition_ = *core::ParseDefinition(R"({"name": "order", "version": 1, "steps": [
      {"name": "a", "participant": "127.0.0.1:1", "action": "a"}]})");
    ASSERT_TRUE(store_->PutDefinition(definition_).ok());
  }

  // A completed saga whose callback goes to `url`.
  void Finish(const std::string& id, const std::string& url) {
    const store::LeaseHolder holder{"coordinator-a", std::chrono::seconds(5)};
    auto created = store_->CreateSaga(definition_, id, json::object(), holder, {"", url});
    ASSERT_TRUE(created.ok()) << created.status();
    core::SagaState before = store_->GetSaga(id)->state;
    core::Transition done{before, {}, {}};
    done.state.status = core::SagaStatus::kCompleted;
    ASSERT_TRUE(
        store_->CommitTransitions({{&before, &done, &definition_, 1}}, "coordinator-a").ok());
  }

  long long Count(const std::string& where) {
    long long count = -1;
    EXPECT_TRUE(pool_
                    ->Run("count",
                          [&](pqxx::connection& c) {
                            pqxx::read_transaction tx(c);
                            count = tx.exec1("SELECT count(*) FROM notification_outbox WHERE " +
                                             where)[0]
                                        .as<long long>();
                          })
                    .ok());
    return count;
  }

  bool WaitFor(const std::function<bool()>& done, milliseconds timeout) {
    const auto give_up = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() > give_up) return false;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return true;
  }

  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<store::SagaStore> store_;
  std::unique_ptr<store::OutboxStore> outbox_;
  core::SagaDefinition definition_;
  ScriptedTransport transport_;
};

TEST_F(NotifierTest, ASlowDestinationHoldsOnlyItsOwnWorkers) {
  Finish("slow-1", "http://hooks.example/slow");
  Finish("slow-2", "http://hooks.example/slow");
  for (int i = 0; i < 20; ++i) Finish("fast-" + std::to_string(i), "http://hooks.example/fast");
  NotifierOptions options;
  options.workers = 3;
  options.poll_interval = milliseconds(50);
  Notifier notifier(*outbox_, transport_, options);
  notifier.Start();
  EXPECT_TRUE(WaitFor([&] { return Count("url LIKE '%/fast' AND delivered_at IS NOT NULL") == 20; },
                      milliseconds(10'000)))
      << "delivered while two slow deliveries hold two of three workers";
  EXPECT_EQ(transport_.slow_in_flight(), 2);
  Finish("late", "http://hooks.example/fast");
  EXPECT_TRUE(
      WaitFor([&] { return Count("delivered_at IS NOT NULL") == 21; }, milliseconds(5'000)));

  const auto stopping = Clock::now();
  notifier.Stop();
  EXPECT_LT(Clock::now() - stopping, milliseconds(3'000));
  EXPECT_EQ(transport_.slow_in_flight(), 0);
  EXPECT_EQ(Count("url LIKE '%/slow' AND attempts = 1 AND last_error LIKE 'cancelled:%' AND "
                  "next_attempt_at < now() + interval '1 minute'"),
            2)
      << "cut short, recorded, retried soon by any coordinator";
}

TEST_F(NotifierTest, RowsAreGivenUpWhenRefusedOrAfterMaxAttempts) {
  Finish("refused", "http://hooks.example/refused");
  Finish("flaky", "http://hooks.example/flaky");
  NotifierOptions options;
  options.max_attempts = 3;
  Notifier notifier(*outbox_, transport_, options);
  for (int round = 0; round < 5; ++round) {
    notifier.RunOnce();
    // Make what is still being retried due at once (not what was given up).
    ASSERT_TRUE(pool_
                    ->Run("due",
                          [](pqxx::connection& c) {
                            pqxx::work tx(c);
                            tx.exec(
                                "UPDATE notification_outbox SET next_attempt_at = now() WHERE "
                                "next_attempt_at < now() + interval '1 day'");
                            tx.commit();
                          })
                    .ok());
  }
  EXPECT_EQ(Count("url LIKE '%/refused' AND attempts = 1 AND next_attempt_at > now() + interval "
                  "'50 years' AND last_error = 'given up: destination 10.0.0.1, a private "
                  "address: refused'"),
            1);
  EXPECT_EQ(Count("url LIKE '%/flaky' AND attempts = 3 AND next_attempt_at > now() + interval "
                  "'50 years' AND last_error = 'given up after 3 attempts: HTTP 500'"),
            1);
  EXPECT_EQ(Count("delivered_at IS NOT NULL"), 0);
}

}  // namespace
}  // namespace skald::notify
