#include "tests/support/test_postgres.h"

#include <pqxx/pqxx>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace skald::testing {
namespace {

TEST(SharedTestPostgresTest, IsStartedOnceAndReused) {
  ASSERT_OK_AND_ASSIGN(devdb::LocalPostgres * first, SharedTestPostgres());
  ASSERT_OK_AND_ASSIGN(devdb::LocalPostgres * second, SharedTestPostgres());
  EXPECT_EQ(first, second);
  EXPECT_TRUE(first->started_server());
  EXPECT_TRUE(first->data_dir().starts_with("/tmp/skald-testpg-")) << first->data_dir();
}

TEST(SharedTestPostgresTest, FreshDatabasesAreSeparate) {
  ASSERT_OK_AND_ASSIGN(std::string a, FreshDatabase("sep"));
  ASSERT_OK_AND_ASSIGN(std::string b, FreshDatabase("sep"));
  ASSERT_NE(a, b);
  {
    pqxx::connection conn(a);
    pqxx::work tx(conn);
    tx.exec0("CREATE TABLE only_in_a (v int)");
    tx.commit();
  }
  pqxx::connection conn(b);
  pqxx::nontransaction tx(conn);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'")[0].as<int>(),
            0);
}

TEST(SharedTestPostgresTest, FreshDatabaseRejectsABadPrefix) {
  EXPECT_EQ(FreshDatabase("Bad-Prefix").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skald::testing
