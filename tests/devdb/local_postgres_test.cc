#include "coordinator/devdb/local_postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "absl/time/clock.h"
#include "coordinator/devdb/cluster_files.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace skald::devdb {
namespace {

using ::skald::testing::TempDir;

LocalPostgresOptions OptionsFor(const TempDir& dir) {
  LocalPostgresOptions options;
  options.data_dir = dir.File("data");
  options.fsync_off = true;
  return options;
}

// Runs one query returning one value, as text.
std::string QueryOne(const std::string& uri, const std::string& sql) {
  pqxx::connection conn(uri);
  pqxx::nontransaction tx(conn);
  return tx.exec1(sql)[0].as<std::string>();
}

// True once no server runs in data_dir; waits up to 10 s.
bool ServerGone(const std::string& data_dir) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ReadLivePostmaster(data_dir).has_value()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

TEST(LocalPostgresTest, StartsAClusterReachableOnlyThroughItsSocket) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(OptionsFor(dir)));
  EXPECT_TRUE(pg->started_server());
  EXPECT_EQ(pg->socket_dir(), dir.File("data"));
  EXPECT_EQ(pg->ConnectionUri("skald"),
            "postgresql://postgres@/skald?host=" + dir.File("data") + "&port=5432");
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SELECT 1"), "1");
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SHOW listen_addresses"), "");
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SHOW fsync"), "off");
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SHOW server_encoding"), "UTF8");
  EXPECT_TRUE(std::filesystem::exists(pg->log_path())) << pg->log_path();
}

TEST(LocalPostgresTest, AppliesExtraSettingsQuoted) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  LocalPostgresOptions options = OptionsFor(dir);
  options.port = 6543;
  options.settings = {{"cluster_name", "skald's \\dev"}, {"work_mem", "5MB"}};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(options));
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SHOW cluster_name"), "skald's \\dev");
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SHOW work_mem"), "5MB");
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SHOW port"), "6543");
}

TEST(LocalPostgresTest, HandlesSpacesAndQuotesInThePath) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  LocalPostgresOptions options;
  options.data_dir = dir.File("it's a dir");
  options.fsync_off = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(options));
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SHOW unix_socket_directories"),
            "\"" + options.data_dir + "\"");
  ASSERT_OK(pg->CreateDatabase("quoted_path"));
  EXPECT_EQ(QueryOne(pg->ConnectionUri("quoted_path"), "SELECT current_database()"), "quoted_path");
}

TEST(LocalPostgresTest, DefaultKeepsFsyncOn) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  LocalPostgresOptions options;
  options.data_dir = dir.File("data");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(options));
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SHOW fsync"), "on");
}

TEST(LocalPostgresTest, SecondStartReusesTheRunningServer) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> first, LocalPostgres::Start(OptionsFor(dir)));
  const std::string first_start_time =
      QueryOne(first->ConnectionUri(), "SELECT pg_postmaster_start_time()::text");
  {
    LocalPostgresOptions options = OptionsFor(dir);
    options.port = 7777;  // Ignored: the running server's socket is used.
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> second, LocalPostgres::Start(options));
    EXPECT_FALSE(second->started_server());
    EXPECT_EQ(second->ConnectionUri(), first->ConnectionUri());
    EXPECT_EQ(QueryOne(second->ConnectionUri(), "SELECT pg_postmaster_start_time()::text"),
              first_start_time);
  }
  // Destroying the object that only reused the server leaves it running.
  EXPECT_EQ(QueryOne(first->ConnectionUri(), "SELECT 1"), "1");
  ASSERT_OK(first->Stop());
  EXPECT_TRUE(ServerGone(dir.File("data")));
  EXPECT_OK(first->Stop());  // Already stopped: still fine.
}

TEST(LocalPostgresTest, RestartKeepsTheData) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(OptionsFor(dir)));
    pqxx::connection conn(pg->ConnectionUri());
    pqxx::work tx(conn);
    tx.exec0("CREATE TABLE kept (v text)");
    tx.exec0("INSERT INTO kept VALUES ('still here')");
    tx.commit();
    conn.disconnect();
    ASSERT_OK(pg->Stop());
  }
  ASSERT_TRUE(ServerGone(dir.File("data")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(OptionsFor(dir)));
  EXPECT_TRUE(pg->started_server());
  EXPECT_EQ(QueryOne(pg->ConnectionUri(), "SELECT v FROM kept"), "still here");
}

TEST(LocalPostgresTest, DestructorStopsTheServerItStarted) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(OptionsFor(dir)));
    ASSERT_TRUE(ReadLivePostmaster(dir.File("data")).has_value());
  }
  EXPECT_FALSE(ReadLivePostmaster(dir.File("data")).has_value());
}

TEST(LocalPostgresTest, CreateDatabaseIsIdempotent) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(OptionsFor(dir)));
  ASSERT_OK(pg->CreateDatabase("orders_1"));
  ASSERT_OK(pg->CreateDatabase("orders_1"));
  EXPECT_EQ(QueryOne(pg->ConnectionUri("orders_1"), "SELECT current_database()"), "orders_1");
}

TEST(LocalPostgresTest, CreateDatabaseRejectsBadNames) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPostgres> pg, LocalPostgres::Start(OptionsFor(dir)));
  for (const std::string& name :
       {std::string(""), std::string("Orders"), std::string("a-b"),
        std::string("x\"; DROP DATABASE postgres; --"), std::string(64, 'a')}) {
    absl::Status status = pg->CreateDatabase(name);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name << ": " << status;
  }
  EXPECT_EQ(
      QueryOne(pg->ConnectionUri(), "SELECT count(*) FROM pg_database WHERE datname = 'postgres'"),
      "1");
}

TEST(LocalPostgresTest, RejectsASocketPathOverTheLimit) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  LocalPostgresOptions options;
  options.data_dir = dir.File(std::string(100, 'd'));
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start(options);
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(pg.status().message().find("107"), std::string::npos) << pg.status();
  EXPECT_FALSE(std::filesystem::exists(options.data_dir));
}

TEST(LocalPostgresTest, RejectsAPathTheShellWouldInterpret) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  LocalPostgresOptions options;
  options.data_dir = dir.File("$(reboot)");
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start(options);
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kInvalidArgument) << pg.status();
}

TEST(LocalPostgresTest, RejectsACommaInTheSocketDirectory) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  LocalPostgresOptions options;
  options.data_dir = dir.File("a,b");
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start(options);
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kInvalidArgument) << pg.status();
}

TEST(LocalPostgresTest, RejectsANonEmptyDirectoryWithoutACluster) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  std::filesystem::create_directory(dir.File("data"));
  std::ofstream(dir.File("data/precious.txt")) << "not a cluster";
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start(OptionsFor(dir));
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(pg.status().message().find(dir.File("data")), std::string::npos) << pg.status();
  EXPECT_TRUE(std::filesystem::exists(dir.File("data/precious.txt")));
}

TEST(LocalPostgresTest, AsRootNamesTheDirectoryThePostgresUserCannotEnter) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root hands the cluster to the postgres user";
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  const std::string locked = dir.File("locked");
  std::filesystem::create_directory(locked);
  ASSERT_EQ(::chmod(locked.c_str(), 0700), 0);
  LocalPostgresOptions options;
  options.data_dir = locked + "/data";
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start(options);
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(pg.status().message().find("cannot enter directory " + locked + " "), std::string::npos)
      << pg.status();
}

TEST(LocalPostgresTest, StartFailureIncludesTheServerLog) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  LocalPostgresOptions options = OptionsFor(dir);
  options.settings = {{"shared_buffers", "not-a-size"}};
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start(options);
  ASSERT_FALSE(pg.ok());
  EXPECT_NE(pg.status().message().find("pg_ctl"), std::string::npos) << pg.status();
  EXPECT_NE(pg.status().message().find("shared_buffers"), std::string::npos) << pg.status();
}

}  // namespace
}  // namespace skald::devdb
