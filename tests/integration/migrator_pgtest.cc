#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "coordinator/store/migrator.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

std::string FreshUri() {
  auto uri = testing::FreshDatabase("migrate");
  EXPECT_TRUE(uri.ok()) << uri.status();
  return uri.ok() ? *uri : "";
}

TEST(ApplyMigrations, AppliesEveryEmbeddedMigrationOnceAndTwiceIsANoOp) {
  ConnectionPool pool(FreshUri(), 1);
  const auto& migrations = EmbeddedMigrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(migrations.front().version, 1);

  auto first = ApplyMigrations(pool, migrations);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), migrations.size());

  auto second = ApplyMigrations(pool, migrations);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->empty());

  int recorded = 0;
  ASSERT_TRUE(pool.Run("count",
                       [&](pqxx::connection& c) {
                         pqxx::read_transaction tx(c);
                         recorded = tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<int>();
                         // The schema exists.
                         tx.exec("SELECT id, state FROM sagas LIMIT 0");
                       })
                  .ok());
  EXPECT_EQ(recorded, static_cast<int>(migrations.size()));
}

TEST(ApplyMigrations, ConcurrentCoordinatorsApplyEachMigrationOnce) {
  const std::string uri = FreshUri();
  std::vector<std::thread> starters;
  std::vector<absl::StatusOr<std::vector<int>>> results(4, std::vector<int>{});
  for (size_t i = 0; i < results.size(); ++i) {
    starters.emplace_back([&, i] {
      ConnectionPool pool(uri, 1);
      results[i] = ApplyMigrations(pool, EmbeddedMigrations());
    });
  }
  for (auto& t : starters) t.join();
  size_t applied = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    applied += r->size();
  }
  EXPECT_EQ(applied, EmbeddedMigrations().size());
}

TEST(ApplyMigrations, RefusesADatabaseNewerThanTheBinary) {
  ConnectionPool pool(FreshUri(), 1);
  ASSERT_TRUE(ApplyMigrations(pool, EmbeddedMigrations()).ok());
  std::vector<Migration> older(EmbeddedMigrations().begin(), EmbeddedMigrations().end() - 1);
  auto result = ApplyMigrations(pool, older);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("newer than this coordinator"), absl::string_view::npos);
}

TEST(ApplyMigrations, AFailingMigrationLeavesNothingBehind) {
  ConnectionPool pool(FreshUri(), 1);
  std::vector<Migration> broken(EmbeddedMigrations());
  broken.push_back({999, "broken", "CREATE TABLE half_done (x int); SELECT no_such_function();"});
  auto result = ApplyMigrations(pool, broken);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("no_such_function"), absl::string_view::npos);
  bool any_table = true;
  ASSERT_TRUE(pool.Run("check",
                       [&](pqxx::connection& c) {
                         pqxx::read_transaction tx(c);
                         any_table = tx.exec1(
                                           "SELECT to_regclass('sagas') IS NOT NULL OR "
                                           "to_regclass('half_done') IS NOT NULL")[0]
                                         .as<bool>();
                       })
                  .ok());
  EXPECT_FALSE(any_table);
}

TEST(ConnectionPool, AnUnreachableDatabaseIsUnavailable) {
  ConnectionPool pool("postgresql://postgres@/nope?host=/nonexistent-dir&connect_timeout=2", 1);
  absl::Status status = pool.CheckConnectivity();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

}  // namespace
}  // namespace skald::store
