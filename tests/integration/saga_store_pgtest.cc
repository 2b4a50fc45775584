#include <gtest/gtest.h>

#include <pqxx/pqxx>

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

}  // namespace
}  // namespace skald::store
