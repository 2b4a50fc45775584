#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace skald::bench {

// A process's CPU time and memory, from /proc.
struct ProcessUsage {
  double cpu_seconds = 0;  // user + system
  long long rss_bytes = 0;
  long long peak_rss_bytes = 0;
};
absl::StatusOr<ProcessUsage> ReadProcessUsage(pid_t pid);

// The CPU time of a PostgreSQL cluster (`data_dir`): its postmaster, with what it reaped of
// ended backends, and the processes it runs now. 0 when the cluster cannot be read.
double ReadClusterCpuSeconds(const std::string& data_dir);

// This process's CPU time (every thread), user + system.
double ReadOwnCpuSeconds();

// The number of threads of process `pid` (/proc), 0 when it cannot be read.
int ReadThreadCount(pid_t pid);

// The machine's CPU time spent busy and in all, from /proc/stat, in seconds.
struct MachineCpu {
  double busy = 0;
  double total = 0;
};
MachineCpu ReadMachineCpu();

// What PostgreSQL's statistics count for one database: commits and rows written (inserted,
// updated or deleted). PostgreSQL flushes a backend's counts about once a second, so a
// difference over a window of a few seconds is close, not exact.
struct DatabaseActivity {
  long long commits = 0;
  long long rows_written = 0;
  long long deadlocks = 0;
  // Cluster-wide: WAL written (pg_current_wal_lsn) and WAL flushes to disk (pg_stat_wal).
  long long wal_bytes = 0;
  long long wal_syncs = 0;
  // Skald's two updated tables (sagas and saga_steps together), from pg_stat_user_tables.
  long long tuples_updated = 0;
  long long hot_updates = 0;
  long long seq_scans = 0;
  long long index_scans = 0;
};
// `stats_uri` reaches any database of the cluster; `database` is the one counted, which
// `database_uri` reaches (for its tables' statistics).
absl::StatusOr<DatabaseActivity> ReadDatabaseActivity(const std::string& stats_uri,
                                                      const std::string& database,
                                                      const std::string& database_uri);

}  // namespace skald::bench
