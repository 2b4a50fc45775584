// A database that refuses writes for a while, against the real coordinator (issue 13,
// symptom 2; scenario 15 of SCENARIOS.md): read-only (what a failover or a storage-full
// managed PostgreSQL does), the coordinator's privileges revoked, a full disk (a tablespace
// on a small tmpfs). Meanwhile clients get UNAVAILABLE with a plain cause and no SQL, and
// /readyz answers 503; once the database takes writes again every saga ends correctly,
// without a restart, and /readyz answers 200.
//
// The coordinator connects as a role that owns its database, not as a superuser (which
// would skip privilege checks), as it would in production.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <pqxx/pqxx>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "tests/e2e/api_client.h"
#include "tests/e2e/coordinator_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using nlohmann::json;

// What PostgreSQL's own messages and SQL text look like; none may reach a client.
void ExpectNoDatabaseText(const std::string& message) {
  for (const char* raw : {"ERROR", "INSERT", "UPDATE", "SELECT", "read-only transaction",
                          "permission denied", "relation", "could not extend", "SQLSTATE"}) {
    EXPECT_EQ(message.find(raw), std::string::npos) << "\"" << raw << "\" in: " << message;
  }
}

class DatabaseRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-refusal-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto participants_db = FreshDatabase("testp");
    ASSERT_TRUE(participants_db.ok()) << participants_db.status();
    auto coordinator_db = FreshDatabase("refusal");
    ASSERT_TRUE(coordinator_db.ok()) << coordinator_db.status();
    admin_ = std::make_unique<pqxx::connection>(*coordinator_db);
    database_ =
        pqxx::nontransaction(*admin_).exec1("SELECT current_database()")[0].as<std::string>();
    // A login role owning the database and its public schema: the coordinator's tables are
    // then its own, and revoking a privilege from it means something.
    const std::string role = admin_->quote_name(database_);
    Admin("CREATE ROLE " + role + " LOGIN");
    Admin("ALTER DATABASE " + role + " OWNER TO " + role);
    Admin("ALTER SCHEMA public OWNER TO " + role);
    std::string uri = *coordinator_db;
    uri.replace(uri.find("postgres@"), 8, database_);

    auto participant =
        SpawnAndWaitReady({TEST_PARTICIPANT_BINARY, "--db", *participants_db, "--listen",
                           "127.0.0.1:0", "--ready-file", dir_->File("p0.ready")},
                          dir_->File("p0.log"), dir_->File("p0.ready"));
    ASSERT_TRUE(participant.ok()) << participant.status();
    participant_ = std::move(*participant);
    coordinator_ = std::make_unique<CoordinatorProcess>(dir_->path(), uri);
    coordinator_->ServeHttp();
    ASSERT_TRUE(coordinator_->Start().ok());
    client_ = std::make_unique<ApiClient>(coordinator_->address(), "");
    http_ = std::make_unique<HttpApi>(coordinator_->http_address(), "");
    json step = {{"participant", participant_.address},
                 {"action", "sleep"},
                 {"compensation", "undo"},
                 {"retry", {{"max_attempts", 3}, {"initial_interval", "100ms"}}}};
    json first = step, second = step;
    first["name"] = "reserve";
    second["name"] = "charge";
    grpc::Status applied =
        client_->Apply({{"name", "pay"}, {"version", 1}, {"steps", {first, second}}});
    ASSERT_TRUE(applied.ok()) << applied.error_message();
    ASSERT_EQ(http_->Get("/readyz").status, 200);
  }

  void TearDown() override {
    if (coordinator_) (void)coordinator_->Stop(SIGTERM);
    if (participant_.process) participant_.process.reset();
  }

  void Admin(const std::string& sql) {
    pqxx::nontransaction tx(*admin_);
    tx.exec(sql);
  }

  // Polls /readyz until it answers `status` (at most 20 s); returns the last answer.
  HttpAnswer ReadyzUntil(int status) {
    HttpAnswer answer;
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    do {
      answer = http_->Get("/readyz");
      if (answer.status == status) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (absl::Now() < give_up);
    return answer;
  }

  // Scenario 15: sagas run across a period in which the database refuses writes for about
  // `hold` (from `refuse` to `restore`), with the client-visible cause `cause`.
  void RefuseThenRestore(const std::function<void()>& refuse, const std::function<void()>& restore,
                         const std::string& cause, absl::Duration hold = absl::Seconds(10)) {
    const json input = {{"sleep_ms", 300}};
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
      ids.push_back("before-" + std::to_string(i));
      grpc::Status started = client_->Start("pay", input, ids.back());
      ASSERT_TRUE(started.ok()) << started.error_message();
    }
    refuse();
    const absl::Time refused_at = absl::Now();

    // Clients: UNAVAILABLE (retry later), a plain cause, no SQL. Starts may still succeed
    // for a while (a full disk refuses only what needs a new page); those must end too.
    bool saw_cause = false;
    for (int i = 0; i < 400 && !saw_cause && absl::Now() < refused_at + absl::Seconds(20); ++i) {
      const std::string id = "during-" + std::to_string(i);
      grpc::Status started = client_->Start("pay", input, id);
      if (started.ok()) {
        ids.push_back(id);
        continue;
      }
      EXPECT_EQ(started.error_code(), grpc::StatusCode::UNAVAILABLE) << started.error_message();
      ExpectNoDatabaseText(started.error_message());
      saw_cause = started.error_message().find(cause) != std::string::npos;
      if (started.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    }
    EXPECT_TRUE(saw_cause) << "no start was refused with \"" << cause << "\"\n"
                           << coordinator_->LogTail();

    HttpAnswer not_ready = ReadyzUntil(503);
    EXPECT_EQ(not_ready.status, 503) << not_ready.body;
    EXPECT_NE(not_ready.body.find(cause), std::string::npos) << not_ready.body;
    ExpectNoDatabaseText(not_ready.body);
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(
        std::max(absl::ZeroDuration(), refused_at + hold - absl::Now())));
    EXPECT_EQ(http_->Get("/readyz").status, 503) << "ready while the database refuses writes";

    restore();
    // Without a restart: ready again, new sagas start, and every saga ends as it should.
    HttpAnswer ready = ReadyzUntil(200);
    EXPECT_EQ(ready.status, 200) << ready.body << "\n" << coordinator_->LogTail();
    grpc::Status after = grpc::Status(grpc::StatusCode::UNKNOWN, "not tried");
    for (const absl::Time give_up = absl::Now() + absl::Seconds(10);
         !after.ok() && absl::Now() < give_up;) {
      after = client_->Start("pay", input, "after");
      if (!after.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ASSERT_TRUE(after.ok()) << after.error_message() << "\n" << coordinator_->LogTail();
    ids.push_back("after");
    for (const std::string& id : ids) {
      absl::StatusOr<v1::Saga> saga = coordinator_->WaitForEnd(id, absl::Seconds(60));
      ASSERT_TRUE(saga.ok()) << id << ": " << saga.status();
      EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED) << id;
    }
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<pqxx::connection> admin_;
  std::string database_;
  ReadyProcess participant_;
  std::unique_ptr<CoordinatorProcess> coordinator_;
  std::unique_ptr<ApiClient> client_;
  std::unique_ptr<HttpApi> http_;
};

TEST_F(DatabaseRefusalTest, ReadOnlyThenWritableEndsEverySagaWithoutARestart) {
  const std::string name = admin_->quote_name(database_);
  RefuseThenRestore(
      [&] {
        Admin("ALTER DATABASE " + name + " SET default_transaction_read_only = on");
        // What a failover does: every session of the old primary ends, and the new ones
        // are read-only.
        Admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()");
      },
      [&] { Admin("ALTER DATABASE " + name + " RESET default_transaction_read_only"); },
      "the database is read-only");
}

TEST_F(DatabaseRefusalTest, PrivilegesRevokedThenGrantedEndEverySagaWithoutARestart) {
  const std::string role = admin_->quote_name(database_);
  RefuseThenRestore(
      [&] { Admin("REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM " + role); },
      [&] { Admin("GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + role); },
      "the coordinator's database role lacks a privilege");
}

// A tablespace on a tmpfs of a few MB holds every table and index of the coordinator's
// database; a filler table takes the space that is left, so that PostgreSQL refuses with
// 53100 (disk full) whatever needs a new page, and dropping it frees the space again.
// Needs root (mount); skipped, saying so, where mounting is not allowed.
TEST_F(DatabaseRefusalTest, DiskFullThenFreedEndsEverySagaWithoutARestart) {
  char mount_template[] = "/tmp/skald-small-disk-XXXXXX";
  ASSERT_NE(mkdtemp(mount_template), nullptr);
  const std::string mount_point = mount_template;
  ASSERT_EQ(chmod(mount_point.c_str(), 0755), 0);
  const passwd* postgres = getpwnam("postgres");
  ASSERT_NE(postgres, nullptr);
  const std::string options = "size=6m,mode=0700,uid=" + std::to_string(postgres->pw_uid) +
                              ",gid=" + std::to_string(postgres->pw_gid);
  if (mount("tmpfs", mount_point.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    rmdir(mount_point.c_str());
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << strerror(errno);
  }
  const std::string tablespace = database_ + "_small";
  // Give the space back whatever happens: the coordinator goes first, its database with it.
  absl::Cleanup give_back = [&] {
    if (coordinator_) (void)coordinator_->Stop(SIGTERM);
    coordinator_.reset();
    admin_.reset();
    try {
      auto cluster = SharedTestPostgres();
      pqxx::connection connection((*cluster)->ConnectionUri("postgres"));
      pqxx::nontransaction tx(connection);
      tx.exec("DROP DATABASE IF EXISTS " + connection.quote_name(database_) + " WITH (FORCE)");
      tx.exec("DROP TABLESPACE IF EXISTS " + connection.quote_name(tablespace));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleaning up the small tablespace: " << e.what();
    }
    EXPECT_EQ(umount(mount_point.c_str()), 0) << strerror(errno);
    rmdir(mount_point.c_str());
  };
  const std::string quoted = admin_->quote_name(tablespace);
  Admin("CREATE TABLESPACE " + quoted + " LOCATION " + admin_->quote(mount_point));
  Admin("ALTER TABLE ALL IN TABLESPACE pg_default SET TABLESPACE " + quoted);
  Admin("ALTER INDEX ALL IN TABLESPACE pg_default SET TABLESPACE " + quoted);
  Admin("CREATE TABLE space_filler (pad text) TABLESPACE " + quoted);

  RefuseThenRestore(
      [&] {
        // Big rows first, then single ones, until PostgreSQL says the disk is full.
        for (int rows : {2000, 1}) {
          for (int i = 0; i < 20'000; ++i) {
            try {
              Admin(
                  "INSERT INTO space_filler SELECT repeat(md5(random()::text), 30) "
                  "FROM generate_series(1, " +
                  std::to_string(rows) + ")");
            } catch (const pqxx::sql_error& e) {
              if (e.sqlstate() != "53100" && !dynamic_cast<const pqxx::disk_full*>(&e)) throw;
              break;
            }
          }
        }
      },
      [&] { Admin("DROP TABLE space_filler"); }, "the database refused: disk full");
}

TEST_F(DatabaseRefusalTest, AnImpossibleDateIsAnInvalidArgumentWithoutDatabaseText) {
  v1::ListSagasRequest request;
  request.set_created_after("2026-02-30");
  v1::ListSagasResponse response;
  grpc::Status listed = client_->sagas().ListSagas(client_->Context().get(), request, &response);
  EXPECT_EQ(listed.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << listed.error_message();
  ExpectNoDatabaseText(listed.error_message());
  EXPECT_EQ(listed.error_message().find("out of range"), std::string::npos)
      << listed.error_message();
}

}  // namespace
}  // namespace skald::testing
