#include "tests/support/test_postgres.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "coordinator/devdb/cluster_files.h"
#include "tests/support/temp_dir.h"

namespace skald::testing {
namespace {

constexpr char kDirPrefix[] = "skald-testpg-";
constexpr char kOwnerFile[] = "owner.pid";

struct SharedCluster {
  std::mutex mu;
  bool attempted = false;
  absl::Status error;
  pid_t owner = 0;
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<devdb::LocalPostgres> postgres;
  std::atomic<int> next_database{0};
};

// Never destroyed: the cluster is shut down by an atexit handler, not by static destructors
// whose order relative to other tests' statics is unknown.
SharedCluster& Shared() {
  static SharedCluster* shared = new SharedCluster();
  return *shared;
}

void ShutDownAtExit() {
  SharedCluster& shared = Shared();
  std::lock_guard<std::mutex> lock(shared.mu);
  // A forked child (e.g. a death test) inherits this handler but not the cluster.
  if (shared.owner != ::getpid()) return;
  shared.postgres.reset();
  shared.dir.reset();
}

// True if `pid` is a process that has not exited (a zombie has).
bool ProcessExists(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat_file(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const size_t end_of_name = stat.rfind(')');
  return end_of_name == std::string::npos || end_of_name + 2 >= stat.size() ||
         stat[end_of_name + 2] != 'Z';
}

// Stops the server of, and removes, each cluster directory left by a test binary that died
// without cleaning up (killed by a timeout, a crash).
void RemoveAbandonedClusters() {
  if (KeepTestDirs()) return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, kDirPrefix)) continue;
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != ::geteuid()) {
      continue;
    }
    std::ifstream owner_file(entry.path() / kOwnerFile);
    int owner = 0;
    std::string line;
    if (!std::getline(owner_file, line) || !absl::SimpleAtoi(line, &owner) || owner <= 0 ||
        ProcessExists(owner)) {
      continue;  // Still in use, or not one of ours.
    }
    const std::string data_dir = (entry.path() / "data").string();
    if (std::optional<devdb::PostmasterInfo> server = devdb::ReadLivePostmaster(data_dir)) {
      ::kill(server->pid, SIGQUIT);  // Immediate shutdown.
      const absl::Time deadline = absl::Now() + absl::Seconds(10);
      while (ProcessExists(server->pid) && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (ProcessExists(server->pid)) continue;
    }
    std::filesystem::remove_all(entry.path(), ec);
  }
}

absl::Status StartShared(SharedCluster& shared) {
  RemoveAbandonedClusters();
  absl::StatusOr<TempDir> dir = TempDir::Create(kDirPrefix);
  if (!dir.ok()) return dir.status();
  shared.dir = std::make_unique<TempDir>(std::move(*dir));
  {
    std::ofstream owner_file(shared.dir->File(kOwnerFile));
    owner_file << ::getpid() << "\n";
  }
  devdb::LocalPostgresOptions options;
  options.data_dir = shared.dir->File("data");
  options.fsync_off = true;
  absl::StatusOr<std::unique_ptr<devdb::LocalPostgres>> postgres =
      devdb::LocalPostgres::Start(options);
  if (!postgres.ok()) {
    shared.dir.reset();
    return absl::Status(
        postgres.status().code(),
        absl::StrCat("starting the test PostgreSQL cluster failed: ", postgres.status().message()));
  }
  shared.postgres = std::move(*postgres);
  shared.owner = ::getpid();
  std::atexit(ShutDownAtExit);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<devdb::LocalPostgres*> SharedTestPostgres() {
  SharedCluster& shared = Shared();
  std::lock_guard<std::mutex> lock(shared.mu);
  if (!shared.attempted) {
    shared.attempted = true;
    shared.error = StartShared(shared);
  }
  if (!shared.error.ok()) return shared.error;
  return shared.postgres.get();
}

absl::StatusOr<std::string> FreshDatabase(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > 40 ||
      !std::all_of(prefix.begin(), prefix.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      })) {
    return absl::InvalidArgumentError(
        absl::StrCat("database prefix '", std::string(prefix), "' must match [a-z0-9_]{1,40}"));
  }
  absl::StatusOr<devdb::LocalPostgres*> postgres = SharedTestPostgres();
  if (!postgres.ok()) return postgres.status();
  const std::string name =
      absl::StrCat(std::string(prefix), "_", Shared().next_database.fetch_add(1));
  if (absl::Status s = (*postgres)->CreateDatabase(name); !s.ok()) return s;
  return (*postgres)->ConnectionUri(name);
}

}  // namespace skald::testing
