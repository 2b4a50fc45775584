#include "bench/resource_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>

namespace skald::bench {

namespace {

// Fields of /proc/<pid>/stat: the parent, and CPU ticks of the process and of the children
// it has waited for.
struct ProcStat {
  pid_t parent = 0;
  long long own_ticks = 0;
  long long reaped_ticks = 0;
};

std::optional<ProcStat> ReadProcStat(const std::string& dir) {
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) return std::nullopt;
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis
  // start with field 3: ppid 4, utime 14, stime 15, cutime 16, cstime 17.
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  ProcStat result;
  for (int i = 3; i <= 17 && fields >> field; ++i) {
    if (i == 4) result.parent = static_cast<pid_t>(std::stoll(field));
    if (i == 14 || i == 15) result.own_ticks += std::stoll(field);
    if (i == 16 || i == 17) result.reaped_ticks += std::stoll(field);
  }
  return result;
}

}  // namespace

double ReadClusterCpuSeconds(const std::string& data_dir) {
  std::ifstream pid_file(data_dir + "/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pid_file >> postmaster) || postmaster <= 0) return 0;
  const auto own = ReadProcStat("/proc/" + std::to_string(postmaster));
  if (!own) return 0;
  long long ticks = own->own_ticks + own->reaped_ticks;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto child = ReadProcStat(entry.path());
    if (child && child->parent == postmaster) ticks += child->own_ticks;
  }
  return static_cast<double>(ticks) / sysconf(_SC_CLK_TCK);
}

double ReadOwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

absl::StatusOr<ProcessUsage> ReadProcessUsage(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  const auto stat = ReadProcStat(dir);
  if (!stat) return absl::NotFoundError("no process " + std::to_string(pid));
  std::string line;
  ProcessUsage usage;
  usage.cpu_seconds = static_cast<double>(stat->own_ticks) / sysconf(_SC_CLK_TCK);
  std::ifstream status(dir + "/status");
  while (std::getline(status, line)) {
    auto kilobytes = [&](std::string_view key) {
      return std::stoll(line.substr(key.size())) * 1024;
    };
    if (line.rfind("VmRSS:", 0) == 0) usage.rss_bytes = kilobytes("VmRSS:");
    if (line.rfind("VmHWM:", 0) == 0) usage.peak_rss_bytes = kilobytes("VmHWM:");
  }
  return usage;
}

MachineCpu ReadMachineCpu() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;  // "cpu": the sum over all processors.
  long long value = 0, total = 0, idle = 0;
  for (int i = 0; i < 8 && stat >> value; ++i) {
    total += value;
    if (i == 3 || i == 4) idle += value;  // idle, iowait
  }
  const double tick = sysconf(_SC_CLK_TCK);
  return {(total - idle) / tick, total / tick};
}

absl::StatusOr<DatabaseActivity> ReadDatabaseActivity(const std::string& stats_uri,
                                                      const std::string& database,
                                                      const std::string& database_uri) {
  try {
    DatabaseActivity activity;
    {
      pqxx::connection connection(stats_uri);
      pqxx::nontransaction tx(connection);
      auto row = tx.exec_params1(
          "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted, deadlocks, "
          "pg_current_wal_lsn() - '0/0'::pg_lsn, (SELECT wal_sync FROM pg_stat_wal) "
          "FROM pg_stat_database WHERE datname = $1",
          database);
      activity.commits = row[0].as<long long>();
      activity.rows_written = row[1].as<long long>();
      activity.deadlocks = row[2].as<long long>();
      activity.wal_bytes = static_cast<long long>(row[3].as<double>());
      activity.wal_syncs = row[4].as<long long>();
    }
    pqxx::connection tables(database_uri);
    pqxx::nontransaction read(tables);
    auto row = read.exec1(
        "SELECT coalesce(sum(n_tup_upd), 0), coalesce(sum(n_tup_hot_upd), 0), "
        "coalesce(sum(seq_scan), 0), coalesce(sum(idx_scan), 0) FROM pg_stat_user_tables "
        "WHERE relname IN ('sagas', 'saga_steps')");
    activity.tuples_updated = row[0].as<long long>();
    activity.hot_updates = row[1].as<long long>();
    activity.seq_scans = row[2].as<long long>();
    activity.index_scans = row[3].as<long long>();
    return activity;
  } catch (const std::exception& e) {
    return absl::UnavailableError("reading the statistics of database " + database + ": " +
                                  e.what());
  }
}

int ReadThreadCount(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "Threads:") {
      int threads = 0;
      status >> threads;
      return threads;
    }
    status.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace skald::bench
