// No deadlock between Skald's own statements: the engine's batch writes and the lease
// keeper's renewals, which both lock many `sagas` rows, run against each other under load on
// a real PostgreSQL, and `pg_stat_database.deadlocks` must stay 0. (Each deadlock costs
// `deadlock_timeout`, a second, of a stopped engine.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using nlohmann::json;

constexpr const char* kLockOrderOwner = "coordinator-a";
const LeaseHolder kLockOrderHolder{kLockOrderOwner, std::chrono::seconds(30)};

constexpr const char* kLockOrderDefinition = R"({"name": "order", "version": 1, "steps": [
  {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve", "compensation": "release"},
  {"name": "charge", "participant": "127.0.0.1:2", "action": "charge", "compensation": "refund"},
  {"name": "ship", "participant": "127.0.0.1:3", "action": "ship", "compensation": "unship"}
]})";

int64_t Deadlocks(const std::string& uri) {
  pqxx::connection c(uri);
  pqxx::nontransaction tx(c);
  return tx.exec1("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")[0]
      .as<int64_t>();
}

// One engine's sagas in memory: what it last committed for each.
struct Saga {
  core::SagaState state;
  int64_t token = 0;
};

TEST(LockOrderTest, BatchWritesAndLeaseRenewalsNeverDeadlock) {
  auto uri = testing::FreshDatabase("lockorder");
  ASSERT_TRUE(uri.ok()) << uri.status();
  constexpr int kWriters = 2;
  ConnectionPool pool(*uri, kWriters + 2);
  ASSERT_TRUE(ApplyMigrations(pool, EmbeddedMigrations()).ok());
  PostgresSagaStore store(pool);
  const core::SagaDefinition definition = *core::ParseDefinition(kLockOrderDefinition);
  ASSERT_TRUE(store.PutDefinition(definition).ok());

  // Each writer drives sagas of its own (a saga is in at most one batch at a time), all
  // leased to the same owner, which the renewals lock all at once.
  constexpr int kSagasPerWriter = 300;
  std::vector<std::vector<Saga>> sagas(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kSagasPerWriter; ++i) {
      auto created = store.CreateSaga(definition, "", json::object(), kLockOrderHolder);
      ASSERT_TRUE(created.ok()) << created.status();
      sagas[w].push_back(
          {core::NewSagaState(created->saga_id, json::object(), definition.steps.size()),
           created->lease_token});
    }
  }
  const int64_t deadlocks_before = Deadlocks(*uri);

  std::atomic<bool> stop{false};
  std::atomic<int> aborted{0}, failed{0}, batches{0}, renewals{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 random(static_cast<unsigned>(w + 1));
      std::vector<Saga>& mine = sagas[w];
      while (!stop) {
        // A batch of most of this writer's sagas, in no particular order, as an engine
        // collects transitions in the order replies arrive.
        std::shuffle(mine.begin(), mine.end(), random);
        const size_t size = mine.size() / 2 + random() % (mine.size() / 2);
        std::vector<core::SagaState> before(size);
        std::vector<core::Transition> transitions(size);
        std::vector<TransitionWrite> writes;
        writes.reserve(size);
        for (size_t i = 0; i < size; ++i) {
          before[i] = mine[i].state;
          transitions[i].state = mine[i].state;
          core::StepState& step = transitions[i].state.steps[random() % 3];
          step.attempts += 1;
          step.status = core::StepStatus::kRunning;
          transitions[i].history.push_back(core::HistoryEntry{"attempt_started"});
          writes.push_back({&before[i], &transitions[i], &definition, mine[i].token});
        }
        auto fenced = store.CommitTransitions(writes, kLockOrderOwner);
        if (fenced.ok()) {
          for (size_t i = 0; i < size; ++i) mine[i].state = transitions[i].state;
          ++batches;
        } else if (fenced.status().code() == absl::StatusCode::kAborted) {
          ++aborted;
        } else {
          ++failed;
        }
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop) {
      auto renewed = store.RenewLeases(kLockOrderHolder);
      if (renewed.ok()) {
        ++renewals;
        // Every saga is still this owner's: none may be missing from the renewal.
        if (renewed->size() != static_cast<size_t>(kWriters * kSagasPerWriter)) ++failed;
      } else if (renewed.status().code() == absl::StatusCode::kAborted) {
        ++aborted;
      } else {
        ++failed;
      }
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (std::chrono::steady_clock::now() < deadline && aborted == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(aborted, 0) << "batches or renewals chosen as a deadlock victim";
  EXPECT_EQ(failed, 0) << "batches or renewals that failed, or renewals that lost a lease";
  EXPECT_GT(batches, 10);
  EXPECT_GT(renewals, 10);
  // The statistics reach pg_stat_database within about a second of each transaction.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(Deadlocks(*uri) - deadlocks_before, 0);
}

}  // namespace
}  // namespace skald::store
