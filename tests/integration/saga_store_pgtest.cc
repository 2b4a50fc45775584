#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using nlohmann::json;

constexpr const char* kOwner = "coordinator-a";
const LeaseHolder kHolder{kOwner, std::chrono::seconds(5)};

constexpr const char* kDefinition = R"({"name": "order", "version": 1, "steps": [
  {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve", "compensation": "release"},
  {"name": "charge", "participant": "127.0.0.1:2", "action": "charge", "compensation": "refund"}
]})";

// The semantics of the SagaStore interface (leases, fencing, batches, paging, history, ...)
// are in tests/sim/saga_store_contract_pgtest.cc, run against this store and the
// simulator's. What stays here is what only the tables show.
class SagaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = testing::FreshDatabase("store");
    ASSERT_TRUE(uri.ok()) << uri.status();
    pool_ = std::make_unique<ConnectionPool>(*uri, 2);
    ASSERT_TRUE(ApplyMigrations(*pool_, EmbeddedMigrations()).ok());
    store_ = std::make_unique<PostgresSagaStore>(*pool_);
    definition_ = *core::ParseDefinition(kDefinition);
    ASSERT_TRUE(store_->PutDefinition(definition_).ok());
  }

  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<SagaStore> store_;
  core::SagaDefinition definition_;
};

TEST_F(SagaStoreTest, RetentionDeletesOnlySagasFinishedLongAgoWithEverythingTheyOwn) {
  // id, state, finished how many days ago
  const std::vector<std::tuple<std::string, std::string, int>> sagas = {
      {"old-completed", "COMPLETED", 40},
      {"old-compensated", "COMPENSATED", 31},
      {"old-failed", "FAILED", 40},
      {"old-running", "RUNNING", 40},
      {"new-completed", "COMPLETED", 1}};
  for (const auto& [id, state, days] : sagas) {
    ASSERT_TRUE(store_->CreateSaga(definition_, id, json::object(), kHolder).ok());
    ASSERT_TRUE(pool_
                    ->Run("age",
                          [&, &id = id, &state = state, days = days](pqxx::connection& c) {
                            pqxx::work tx(c);
                            tx.exec_params0(
                                "UPDATE sagas SET state = $2, "
                                "updated_at = now() - $3 * interval '1 day', "
                                "finished_at = now() - $3 * interval '1 day' WHERE id = $1",
                                id, state, days);
                            tx.commit();
                          })
                    .ok());
  }
  const auto thirty_days = std::chrono::hours(24 * 30);
  auto first = store_->DeleteFinishedSagas(thirty_days, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1) << "at most the batch size";
  auto rest = store_->DeleteFinishedSagas(thirty_days, 100);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*rest, 1);
  EXPECT_EQ(*store_->DeleteFinishedSagas(thirty_days, 100), 0);

  for (const auto& [id, state, days] : sagas) {
    const bool gone = id == "old-completed" || id == "old-compensated";
    EXPECT_EQ(store_->GetSaga(id).ok(), !gone) << id;
    int steps = -1, events = -1;
    ASSERT_TRUE(
        pool_
            ->Run("count",
                  [&, &id = id](pqxx::connection& c) {
                    pqxx::read_transaction tx(c);
                    steps =
                        tx.exec_params1("SELECT count(*) FROM saga_steps WHERE saga_id = $1", id)[0]
                            .as<int>();
                    events = tx.exec_params1("SELECT count(*) FROM saga_events WHERE saga_id = $1",
                                             id)[0]
                                 .as<int>();
                  })
            .ok());
    EXPECT_EQ(steps, gone ? 0 : 2) << id;
    EXPECT_EQ(events, gone ? 0 : 1) << id;
  }
}

// Nothing indexed changes with a transition and the pages keep room (migration 0008), so
// that PostgreSQL updates saga and step rows in place (HOT) without writing any index.
TEST(LeanWriteSetTest, TransitionsUpdateSagaAndStepRowsWithoutIndexWrites) {
  auto uri = testing::FreshDatabase("lean");
  ASSERT_TRUE(uri.ok()) << uri.status();
  const core::SagaDefinition definition = *core::ParseDefinition(kDefinition);
  constexpr int kSagas = 20;
  {
    ConnectionPool pool(*uri, 1);
    ASSERT_TRUE(ApplyMigrations(pool, EmbeddedMigrations()).ok());
    PostgresSagaStore store(pool);
    ASSERT_TRUE(store.PutDefinition(definition).ok());
    for (int i = 0; i < kSagas; ++i) {
      auto created = store.CreateSaga(definition, "", json::object(), kHolder);
      ASSERT_TRUE(created.ok()) << created.status();
      core::SagaState state =
          core::NewSagaState(created->saga_id, json::object(), definition.steps.size());
      // The first step started, then succeeded with the second started: the saga stays
      // RUNNING, its steps move on.
      for (int t = 0; t < 2; ++t) {
        const core::SagaState before = state;
        core::Transition transition{state, {}, {}};
        if (t == 0) {
          transition.state.steps[0].status = core::StepStatus::kRunning;
          transition.state.steps[0].attempts = 1;
        } else {
          transition.state.steps[0].status = core::StepStatus::kSucceeded;
          transition.state.steps[0].output = json::object();
          transition.state.steps[1].status = core::StepStatus::kRunning;
          transition.state.steps[1].attempts = 1;
        }
        auto fenced = store.CommitTransitions(
            {TransitionWrite{&before, &transition, &definition, created->lease_token}}, kOwner);
        ASSERT_TRUE(fenced.ok()) << fenced.status();
        ASSERT_TRUE(fenced->empty());
        state = transition.state;
      }
    }
  }  // Closing the connections flushes their statistics.
  pqxx::connection c(*uri);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::map<std::string, std::pair<int64_t, int64_t>> updates;  // table -> (all, HOT)
  while (std::chrono::steady_clock::now() < deadline) {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT pg_stat_clear_snapshot()");
    updates.clear();
    for (const auto& row :
         tx.exec("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                 "WHERE relname IN ('sagas', 'saga_steps')")) {
      updates[row[0].as<std::string>()] = {row[1].as<int64_t>(), row[2].as<int64_t>()};
    }
    if (updates["sagas"].first >= 2 * kSagas && updates["saga_steps"].first >= 3 * kSagas) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(updates["sagas"].first, 2 * kSagas) << "statistics not flushed in time";
  ASSERT_GE(updates["saga_steps"].first, 3 * kSagas) << "statistics not flushed in time";
  // Nearly all: an update finding its page full is not HOT.
  EXPECT_GE(updates["sagas"].second * 10, updates["sagas"].first * 9)
      << updates["sagas"].second << " of " << updates["sagas"].first << " saga updates HOT";
  EXPECT_GE(updates["saga_steps"].second * 10, updates["saga_steps"].first * 9)
      << updates["saga_steps"].second << " of " << updates["saga_steps"].first
      << " step updates HOT";
}

}  // namespace
}  // namespace skald::store
