// The database's own refusals against a real PostgreSQL (issue 13, symptom 2 and the SQL
// part of symptom 8): a read-only database and a revoked privilege give UNAVAILABLE with a
// plain cause and no SQL, the store takes writes again as soon as the database does (no
// pooled session keeps the refusal), a value PostgreSQL refuses is INVALID_ARGUMENT, and
// the readiness write probe follows the database.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "coordinator/core/definition_parser.h"
#include "coordinator/store/migrator.h"
#include "coordinator/store/postgres_saga_store.h"
#include "coordinator/store/write_probe.h"
#include "tests/support/test_postgres.h"

namespace skald::store {
namespace {

using nlohmann::json;

const LeaseHolder kRefusalTestHolder{"coordinator-a", std::chrono::seconds(5)};

constexpr const char* kOneStepDefinition = R"({"name": "order", "version": 1, "steps": [
  {"name": "reserve", "participant": "127.0.0.1:1", "action": "reserve", "compensation": "release"}
]})";

// What PostgreSQL's own messages and SQL text look like; none may reach a caller.
void ExpectNoDatabaseText(const absl::Status& status) {
  for (const char* raw : {"ERROR", "INSERT", "UPDATE", "SELECT", "transaction", "permission",
                          "relation", "out of range", "timestamp"}) {
    EXPECT_EQ(status.message().find(raw), std::string::npos)
        << "\"" << raw << "\" in: " << status.message();
  }
}

class DatabaseRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = testing::FreshDatabase("refusal");
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    admin_ = std::make_unique<pqxx::connection>(uri_);
    database_ =
        pqxx::nontransaction(*admin_).exec1("SELECT current_database()")[0].as<std::string>();
  }

  void TearDown() override {
    if (admin_) Admin("ALTER DATABASE " + admin_->quote_name(database_) + " RESET ALL");
  }

  // Opens the store on the database as `user` (the superuser when empty), migrated.
  void OpenStore(const std::string& user = "") {
    std::string uri = uri_;
    if (!user.empty()) uri.replace(uri.find("postgres@"), 8, user);
    pool_ = std::make_unique<ConnectionPool>(uri, 2);
    ASSERT_TRUE(ApplyMigrations(*pool_, EmbeddedMigrations()).ok());
    store_ = std::make_unique<PostgresSagaStore>(*pool_);
    definition_ = *core::ParseDefinition(kOneStepDefinition);
    ASSERT_TRUE(store_->PutDefinition(definition_).ok());
  }

  // A login role that owns the database and its public schema, as in production, where
  // the coordinator is not a superuser (superusers skip privilege checks).
  std::string OwnerRole() {
    const std::string role = admin_->quote_name(database_);
    Admin("CREATE ROLE " + role + " LOGIN");
    Admin("ALTER DATABASE " + role + " OWNER TO " + role);
    Admin("ALTER SCHEMA public OWNER TO " + role);
    return database_;
  }

  void Admin(const std::string& sql) {
    pqxx::nontransaction tx(*admin_);
    tx.exec(sql);
  }

  void SetReadOnly(bool on) {
    const std::string name = admin_->quote_name(database_);
    Admin(on ? "ALTER DATABASE " + name + " SET default_transaction_read_only = on"
             : "ALTER DATABASE " + name + " RESET default_transaction_read_only");
    if (on) {
      // What a failover does: every session of the old primary ends.
      Admin(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    }
  }

  absl::Status Start(const std::string& id) {
    return store_->CreateSaga(definition_, id, json{{"n", 1}}, kRefusalTestHolder).status();
  }

  // Start, again while it fails on a pooled session the failover ended (at most once per
  // pooled connection): returns the first other answer.
  absl::Status StartPastEndedSessions(const std::string& id) {
    absl::Status status = Start(id);
    for (int i = 0; i < 3 && (status.message().find("connection") != std::string::npos ||
                              status.message().find("shutting down") != std::string::npos);
         ++i) {
      status = Start(id);
    }
    return status;
  }

  std::string uri_;
  std::string database_;
  std::unique_ptr<pqxx::connection> admin_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<SagaStore> store_;
  core::SagaDefinition definition_;
};

TEST_F(DatabaseRefusalTest, ReadOnlyIsUnavailableAndWritesWorkAgainOnceReset) {
  OpenStore();
  ASSERT_TRUE(Start("before").ok());
  SetReadOnly(true);
  absl::Status refused = StartPastEndedSessions("during");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_EQ(refused.message(), "create saga: the database is read-only");
  ExpectNoDatabaseText(refused);
  // Reads still work, on sessions opened while the database is read-only.
  EXPECT_TRUE(store_->GetSaga("before").ok());
  EXPECT_TRUE(store_->GetSaga("before").ok());

  SetReadOnly(false);
  // At once: no pooled session keeps the read-only default it was opened with.
  absl::Status after = Start("after");
  EXPECT_TRUE(after.ok()) << after;
  EXPECT_TRUE(Start("after-2").ok());
}

TEST_F(DatabaseRefusalTest, RevokedPrivilegeIsUnavailableAndWritesWorkOnceGranted) {
  const std::string role = OwnerRole();
  OpenStore(role);
  ASSERT_TRUE(Start("before").ok());
  const std::string grantee = admin_->quote_name(role);
  Admin("REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM " + grantee);
  absl::Status refused = Start("during");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_EQ(refused.message(), "create saga: the coordinator's database role lacks a privilege");
  ExpectNoDatabaseText(refused);
  WriteProbe probe(*pool_, "node-a", std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  absl::Status probed = probe.Check();
  EXPECT_EQ(probed.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(probed.message(), "refuses writes: the coordinator's database role lacks a privilege");

  Admin("GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + grantee);
  EXPECT_TRUE(Start("after").ok());
  EXPECT_TRUE(probe.Check().ok());
}

TEST_F(DatabaseRefusalTest, WriteProbeFollowsAReadOnlyDatabase) {
  OpenStore();
  WriteProbe probe(*pool_, "node-a", std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  ASSERT_TRUE(probe.Check().ok());
  SetReadOnly(true);
  absl::Status probed = probe.Check();
  for (int i = 0; i < 3 && probed.message().find("read-only") == std::string::npos; ++i) {
    probed = probe.Check();  // past the sessions the failover ended
  }
  EXPECT_EQ(probed.message(), "refuses writes: the database is read-only");
  SetReadOnly(false);
  EXPECT_TRUE(probe.Check().ok());
}

TEST_F(DatabaseRefusalTest, WriteProbeRemembersRecentRefusalsAndWritesAtMostOncePerInterval) {
  OpenStore();
  WriteProbe probe(*pool_, "node-a", std::chrono::hours(1), std::chrono::hours(1));
  ASSERT_TRUE(probe.Check().ok());
  // Within the interval the database is not written again.
  Admin("DELETE FROM coordinator_heartbeats");
  ASSERT_TRUE(probe.Check().ok());
  EXPECT_EQ(pqxx::nontransaction(*admin_)
                .exec1("SELECT count(*) FROM coordinator_heartbeats")[0]
                .as<int>(),
            0);
  // A refusal met by other work (here: read-only) makes it fail, even though its own
  // answer is cached.
  SetReadOnly(true);
  (void)StartPastEndedSessions("during");
  absl::Status probed = probe.Check();
  EXPECT_EQ(probed.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(probed.message(), "refused a write in the last few seconds: the database is read-only");
}

TEST_F(DatabaseRefusalTest, AValueTheDatabaseRefusesIsAnInvalidArgument) {
  OpenStore();
  SagaFilter filter;
  filter.created_after = "2026-02-30T00:00:00Z";
  absl::StatusOr<SagaPage> page = store_->ListSagas(filter);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << page.status();
  EXPECT_EQ(page.status().message(), "list sagas: an invalid date or time");
  ExpectNoDatabaseText(page.status());
}

}  // namespace
}  // namespace skald::store
