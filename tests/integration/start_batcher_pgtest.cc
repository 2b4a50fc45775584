// Group commit of StartSaga (api::StartBatcher over PostgresSagaStore::CreateSagas) on a real
// PostgreSQL: concurrent starts share commits, each is answered with its own result, and one
// start the database refuses fails none of the others in its batch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "coordinator/api/start_batcher.h"
#include "coordinator/core/definition_parser.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/support/test_postgres.h"

namespace skald::api {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const store::LeaseHolder kHolder{"coordinator-a", std::chrono::seconds(30)};

constexpr const char* kDefinition = R"({"name": "order", "version": 1, "steps": [
  {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve", "compensation": "release"},
  {"name": "charge", "participant": "127.0.0.1:2", "action": "charge", "compensation": "refund"}
]})";

// The answers of submitted starts, by the caller's key; waits for them with a bound.
class Answers {
 public:
  StartBatcher::Done For(std::string key) {
    return [this, key](store::SagaToCreate, absl::StatusOr<store::CreatedSaga> created) {
      std::lock_guard lock(mutex_);
      answers_.emplace(key, std::move(created));
      answered_.notify_all();
    };
  }
  // True when `count` answers arrived within `timeout`.
  bool WaitFor(size_t count, milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return answered_.wait_for(lock, timeout, [&] { return answers_.size() >= count; });
  }
  absl::StatusOr<store::CreatedSaga> Of(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = answers_.find(key);
    if (it == answers_.end()) return absl::NotFoundError("no answer for " + key);
    return it->second;
  }

 private:
  std::mutex mutex_;
  std::condition_variable answered_;
  std::map<std::string, absl::StatusOr<store::CreatedSaga>> answers_;
};

class StartBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = testing::FreshDatabase("startbatch");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    pool_ = std::make_unique<store::ConnectionPool>(uri_, 6);
    ASSERT_TRUE(store::ApplyMigrations(*pool_, store::EmbeddedMigrations()).ok());
    store_ = std::make_unique<store::PostgresSagaStore>(*pool_);
    order_ = std::make_shared<const core::SagaDefinition>(*core::ParseDefinition(kDefinition));
    ASSERT_TRUE(store_->PutDefinition(*order_).ok());
  }

  long long Query(const std::string& sql) {
    pqxx::connection c(uri_);
    pqxx::nontransaction tx(c);
    return tx.exec1(sql)[0].as<long long>();
  }

  std::string uri_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<store::PostgresSagaStore> store_;
  std::shared_ptr<const core::SagaDefinition> order_;
};

TEST_F(StartBatcherTest, ConcurrentStartsShareCommitsAndEachIsAnswered) {
  StartBatcher batcher(*store_, kHolder, {.committers = 2, .max_batch = 64});
  Answers answers;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::vector<std::thread> clients;
  std::atomic<int> refused{0};
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "s-" + std::to_string(t) + "-" + std::to_string(i);
        if (!batcher.Submit({order_, id, json{{"i", i}}, {}}, answers.For(id)).ok()) ++refused;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  ASSERT_EQ(refused.load(), 0);
  ASSERT_TRUE(answers.WaitFor(kThreads * kPerThread, milliseconds(60'000)));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = "s-" + std::to_string(t) + "-" + std::to_string(i);
      auto created = answers.Of(id);
      ASSERT_TRUE(created.ok()) << id << ": " << created.status();
      EXPECT_TRUE(created->created) << id;
      EXPECT_EQ(created->saga_id, id);
      EXPECT_EQ(created->lease_token, 1);
    }
  }
  EXPECT_EQ(Query("SELECT count(*) FROM sagas WHERE owner = 'coordinator-a'"),
            kThreads * kPerThread);
  EXPECT_EQ(Query("SELECT count(*) FROM saga_steps"), 2 * kThreads * kPerThread);
  // Rows written by one transaction share its id (xmin): PostgreSQL's own count of the
  // transactions that created the sagas.
  const long long transactions = Query("SELECT count(DISTINCT xmin::text) FROM sagas");
  std::cout << kThreads * kPerThread << " starts in " << transactions << " transactions ("
            << batcher.batches() << " batches)\n";
  EXPECT_EQ(static_cast<uint64_t>(transactions), batcher.batches());
  EXPECT_LE(transactions, kThreads * kPerThread / 4) << "starts were not committed together";
  EXPECT_EQ(batcher.sagas(), static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_F(StartBatcherTest, ABatchMixingRefusalsAndRepeatsAnswersEachStartOnItsOwn) {
  json other = json::parse(kDefinition);
  other["name"] = "refund";
  auto refund = std::make_shared<const core::SagaDefinition>(*core::ParseDefinition(other.dump()));
  ASSERT_TRUE(store_->PutDefinition(*refund).ok());
  StartBatcher batcher(*store_, kHolder, {.committers = 1, .max_batch = 64});
  Answers answers;

  // The first start's insert waits for the definition row, locked here: the starts submitted
  // meanwhile queue behind its commit and form the next batch, together.
  pqxx::connection locker(uri_);
  pqxx::work lock(locker);
  lock.exec("SELECT 1 FROM definitions WHERE name = 'order' FOR UPDATE");
  ASSERT_TRUE(batcher.Submit({order_, "first", json::object(), {}}, answers.For("first")).ok());
  // Bounded wait until the first batch is in flight and blocked on the lock.
  for (int i = 0;
       i < 500 && Query("SELECT count(*) FROM pg_stat_activity WHERE "
                        "wait_event_type = 'Lock' AND datname = current_database()") == 0;
       ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(batcher.batches(), 0u);
  ASSERT_TRUE(batcher.Submit({order_, "m-1", json{{"n", 1}}, {}}, answers.For("good")).ok());
  ASSERT_TRUE(batcher.Submit({order_, "m-1", json{{"n", 2}}, {}}, answers.For("repeat")).ok());
  ASSERT_TRUE(batcher.Submit({refund, "m-1", json::object(), {}}, answers.For("clash")).ok());
  ASSERT_TRUE(batcher
                  .Submit({order_, "nul", json{{"text", std::string("a\0b", 3)}}, {}},
                          answers.For("refused"))
                  .ok());
  ASSERT_TRUE(batcher.Submit({order_, "m-2", json::object(), {}}, answers.For("good-2")).ok());
  lock.commit();
  ASSERT_TRUE(answers.WaitFor(6, milliseconds(30'000)));
  EXPECT_EQ(batcher.batches(), 2u) << "the five starts formed one batch";

  ASSERT_TRUE(answers.Of("first").ok());
  auto good = answers.Of("good");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(good->created);
  auto repeat = answers.Of("repeat");
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_FALSE(repeat->created);
  EXPECT_EQ(repeat->saga_id, "m-1");
  EXPECT_EQ(answers.Of("clash").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(answers.Of("refused").status().code(), absl::StatusCode::kInvalidArgument)
      << answers.Of("refused").status();
  auto good_2 = answers.Of("good-2");
  ASSERT_TRUE(good_2.ok()) << good_2.status();
  EXPECT_TRUE(good_2->created);

  EXPECT_EQ(Query("SELECT count(*) FROM sagas WHERE id IN ('first', 'm-1', 'm-2')"), 3);
  EXPECT_EQ(Query("SELECT count(*) FROM sagas WHERE id = 'nul'"), 0);
  EXPECT_EQ(Query("SELECT (input->>'n')::int FROM sagas WHERE id = 'm-1'"), 1);
}

TEST_F(StartBatcherTest, StopCommitsWhatWasQueuedAndRefusesLaterStarts) {
  Answers answers;
  StartBatcher batcher(*store_, kHolder, {.committers = 1});
  for (int i = 0; i < 50; ++i) {
    const std::string id = "q-" + std::to_string(i);
    ASSERT_TRUE(batcher.Submit({order_, id, json::object(), {}}, answers.For(id)).ok());
  }
  batcher.Stop();
  EXPECT_TRUE(answers.WaitFor(50, milliseconds(0))) << "every queued start answered by Stop";
  EXPECT_EQ(Query("SELECT count(*) FROM sagas"), 50);
  EXPECT_EQ(batcher.Submit({order_, "late", json::object(), {}}, answers.For("late")).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(StartBatcherTest, StartsBeyondTheQueueBoundAreRefused) {
  // The committer is held by the lock, so the queue fills.
  pqxx::connection locker(uri_);
  pqxx::work lock(locker);
  lock.exec("SELECT 1 FROM definitions WHERE name = 'order' FOR UPDATE");
  Answers answers;
  StartBatcher batcher(*store_, kHolder, {.committers = 1, .max_batch = 64, .max_queued = 3});
  ASSERT_TRUE(batcher.Submit({order_, "held", json::object(), {}}, answers.For("held")).ok());
  for (int i = 0; i < 500 && batcher.batches() == 0 &&
                  Query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()") == 0;
       ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  for (int i = 0; i < 3; ++i) {
    const std::string id = "w-" + std::to_string(i);
    ASSERT_TRUE(batcher.Submit({order_, id, json::object(), {}}, answers.For(id)).ok());
  }
  EXPECT_EQ(batcher.Submit({order_, "over", json::object(), {}}, answers.For("over")).code(),
            absl::StatusCode::kResourceExhausted);
  lock.commit();
  ASSERT_TRUE(answers.WaitFor(4, milliseconds(30'000)));
  EXPECT_EQ(Query("SELECT count(*) FROM sagas"), 4);
}

}  // namespace
}  // namespace skald::api
