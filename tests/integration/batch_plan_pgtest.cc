// The engine's batch statements find their rows by key whatever the statistics say. The
// planner takes the batch's rows (a set-returning function) for 100; in a database too young
// to have been analysed, or kept small by retention, 100 key lookups looked dearer than one
// sequential scan and a hash join, and every batch of ten then read whole tables (60 % of
// PostgreSQL's CPU in the benchmark).
#include <gtest/gtest.h>

#include <chrono>
#include <pqxx/pqxx>
#include <thread>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using nlohmann::json;

constexpr const char* kBatchPlanOwner = "coordinator-a";

constexpr const char* kBatchPlanDefinition = R"({"name": "order", "version": 1, "steps": [
  {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve", "compensation": "release"},
  {"name": "charge", "participant": "127.0.0.1:2", "action": "charge", "compensation": "refund"},
  {"name": "ship", "participant": "127.0.0.1:3", "action": "ship", "compensation": "unship"}
]})";

struct Scans {
  int64_t sequential = 0;
  int64_t by_index = 0;
};

Scans ScansOf(pqxx::connection& c, const std::string& table) {
  pqxx::nontransaction tx(c);
  pqxx::row row = tx.exec_params1(
      "SELECT coalesce(seq_scan, 0), coalesce(idx_scan, 0) FROM pg_stat_user_tables "
      "WHERE relname = $1",
      table);
  return {row[0].as<int64_t>(), row[1].as<int64_t>()};
}

TEST(BatchPlanTest, ABatchLooksUpItsRowsByKeyInADatabaseNeverAnalysed) {
  auto uri = testing::FreshDatabase("batchplan");
  ASSERT_TRUE(uri.ok()) << uri.status();
  const core::SagaDefinition definition = *core::ParseDefinition(kBatchPlanDefinition);
  // A backend sends its statistics when it has been idle a second, or when it ends: every
  // phase below has connections of its own, closed before the counts are read.
  {
    ConnectionPool pool(*uri, 1);
    ASSERT_TRUE(ApplyMigrations(pool, EmbeddedMigrations()).ok());
    ASSERT_TRUE(PostgresSagaStore(pool).PutDefinition(definition).ok());
  }
  // Sagas of 3 steps, leased here (written directly: what CreateSaga writes, without a
  // commit each): first 100, where any plan may scan the tables whole; later 6,000, where
  // the planner, believing a batch holds 100 rows, prefers scanning both tables whole to 100
  // lookups. No ANALYZE may come to the rescue.
  const auto add_sagas = [&](int from, int to) {
    pqxx::connection setup(*uri);
    pqxx::work tx(setup);
    if (from == 1) {  // once: an ALTER TABLE later would make PostgreSQL plan afresh
      tx.exec0("ALTER TABLE sagas SET (autovacuum_enabled = false)");
      tx.exec0("ALTER TABLE saga_steps SET (autovacuum_enabled = false)");
    }
    tx.exec_params0(
        "INSERT INTO sagas (id, definition_name, definition_version, state, input, owner, "
        "lease_token, lease_expires_at) SELECT 's' || g, 'order', 1, 'RUNNING', '{}', $1, 1, "
        "now() + interval '1 hour' FROM generate_series($2::int, $3::int) g",
        kBatchPlanOwner, from, to);
    tx.exec_params0(
        "INSERT INTO saga_steps (saga_id, position, name, state) SELECT 's' || g, p, "
        "(ARRAY['reserve', 'charge', 'ship'])[p + 1], 'PENDING' "
        "FROM generate_series($1::int, $2::int) g, generate_series(0, 2) p",
        from, to);
    tx.commit();
  };
  add_sagas(1, 100);
  pqxx::connection observer(*uri);
  // The statistics of a closed connection arrive shortly after it ends.
  const auto settled = [&](const std::string& table, Scans before) {
    Scans now = ScansOf(observer, table);
    for (int i = 0; i < 50 && now.by_index == before.by_index; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      now = ScansOf(observer, table);
    }
    return now;
  };
  const Scans sagas_before = settled("sagas", {});
  const Scans steps_before = settled("saga_steps", {});

  {
    ConnectionPool pool(*uri, 1);
    PostgresSagaStore store(pool);
    // Twelve batches of ten transitions, each starting a saga's first step, on one
    // connection: the statements are prepared, and from the sixth execution on PostgreSQL
    // may keep one generic plan, made while the tables were small, for all later ones.
    for (int batch = 0; batch < 12; ++batch) {
      if (batch == 8) add_sagas(101, 6000);
      std::vector<core::SagaState> before;
      std::vector<core::Transition> transitions;
      for (int i = batch * 10; i < batch * 10 + 10; ++i) {
        before.push_back(core::NewSagaState("s" + std::to_string(i + 1), json::object(), 3));
        core::Transition transition;
        transition.state = before.back();
        transition.state.steps[0].attempts = 1;
        transition.state.steps[0].status = core::StepStatus::kRunning;
        transition.history.push_back(core::HistoryEntry{"attempt_started"});
        transitions.push_back(std::move(transition));
      }
      std::vector<TransitionWrite> writes;
      for (size_t i = 0; i < before.size(); ++i) {
        writes.push_back({&before[i], &transitions[i], &definition, 1});
      }
      auto fenced = store.CommitTransitions(writes, kBatchPlanOwner);
      ASSERT_TRUE(fenced.ok()) << fenced.status();
      EXPECT_TRUE(fenced->empty()) << "the leases are this owner's";
    }
  }

  const Scans sagas_after = settled("sagas", sagas_before);
  const Scans steps_after = settled("saga_steps", steps_before);
  EXPECT_GT(sagas_after.by_index, sagas_before.by_index);
  EXPECT_GT(steps_after.by_index, steps_before.by_index);
  EXPECT_EQ(sagas_after.sequential - sagas_before.sequential, 0) << "sagas read whole";
  EXPECT_EQ(steps_after.sequential - steps_before.sequential, 0) << "saga_steps read whole";
}

}  // namespace
}  // namespace skald::store
