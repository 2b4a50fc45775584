#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/pgbench_ceiling.h"
#include "nlohmann/json.hpp"

namespace skald::bench {

// One measured load run, as reported.
struct RunReport {
  std::string label;
  std::string definition;
  std::string mode;  // "closed" or "open"
  int steps = 0;
  int concurrency = 0;
  double offered_rate = 0;
  double sagas_per_second = 0;
  double step_calls_per_second = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  double coordinator_cpu_us_per_saga = 0;
  double coordinator_cpu_us_per_step = 0;
  double coordinator_cpu_share = 0;  // of one core
  double machine_busy_share = 0;     // of all cores
  double commits_per_saga = 0;
  double rows_written_per_saga = 0;
  double coordinator_peak_rss_mb = 0;
  int coordinator_threads = 0;  // at the end of the window
  long long deadlocks = 0;      // pg_stat_database.deadlocks over the window
  double wal_bytes_per_saga = 0;
  double wal_syncs_per_saga = 0;
  // PostgreSQL's CPU time per saga (all its processes: the coordinator's backends and its
  // own background work).
  double postgres_cpu_us_per_saga = 0;
  // Updates of sagas and saga_steps rows over the window that were HOT, and the scans of
  // those tables (sequential, index).
  double hot_update_share = 0;
  long long seq_scans = 0, index_scans = 0;
  long long completed = 0, compensated = 0, failed = 0, errors = 0;
  std::string first_error;
  // Coordinators sharing the database and the load; CPU time and threads are their sums.
  int coordinators = 1;
  // One of the scale-out runs (1, 2, 3 coordinators).
  bool scale_out = false;
};

// Everything one benchmark run found.
struct BenchReport {
  bool quick = false;
  std::vector<Ceiling> ceilings;
  std::vector<RunReport> runs;
  // Named figures of the scale checks (e.g. "throughput_ratio_after_preload").
  nlohmann::json scale = nlohmann::json::object();
  // No-op unary gRPC calls per second on loopback (see NoopCallRate).
  double grpc_calls_per_second = 0;
  // CPU time of one such call, client and server together.
  double grpc_cpu_us_per_call = 0;
  // The machine's processors (the machine bound's budget).
  int processors = 0;
  // StartSaga calls answered per second, nobody waiting (see StartOnlyRate); 0: not run.
  double start_only_per_second = 0;
  // Skald's closed-loop peak for the 3-step linear saga over the storage ceiling for 3 steps.
  std::optional<double> ratio_3_step;
};

// What the whole machine could do for a saga of `ceiling`'s steps if the coordinator cost
// nothing: its processors divided by PostgreSQL's CPU per saga at the storage ceiling plus
// the CPU of the saga's no-op gRPC calls. 0 when not measured.
double MachineBound(const BenchReport& report, const Ceiling& ceiling);

nlohmann::json ToJson(const BenchReport& report);
// A fixed-width table for people.
std::string ToTable(const BenchReport& report);

}  // namespace skald::bench
