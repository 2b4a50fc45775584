#include "bench/resource_usage.h"

#include <unistd.h>

#include <fstream>
#include <pqxx/pqxx>
#include <sstream>

namespace skald::bench {

absl::StatusOr<ProcessUsage> ReadProcessUsage(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return absl::NotFoundError("no process " + std::to_string(pid));
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis
  // start with field 3, so utime and stime (14, 15) are the 12th and 13th after it.
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  ProcessUsage usage;
  usage.cpu_seconds = static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
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
