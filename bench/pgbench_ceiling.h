#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skald::bench {

// What pgbench reached writing, in Skald's own tables, the rows Skald writes for sagas of
// `steps` linear steps.
struct Ceiling {
  // "storage ceiling" (Skald's rows, many sagas per commit: what PostgreSQL can absorb) or
  // "naive writer" (one commit per state change of one saga).
  std::string kind;
  int steps = 0;
  int clients = 0;
  int sagas_per_commit = 1;
  double sagas_per_second = 0;
  // Commits one saga needs (a share of each when several sagas share it).
  double commits_per_saga = 0;
  // Every run made (sagas/s); sagas_per_second is their median.
  std::vector<double> samples;
  // PostgreSQL's CPU time per saga (all its processes), median of the runs at this size.
  double postgres_cpu_us_per_saga = 0;
};

// The naive writer: one script run is one saga, with one commit per state change: the saga
// with its steps and first event; per step, the attempt started and then its success (each
// fencing the saga row, updating the step and appending an event); the final state.
// 2 * steps + 2 commits per saga.
std::string NaiveWriterScript(int steps);

// The storage ceiling: one script run is `sagas` sagas taken through their lives together,
// each commit holding the same transition of all of them, with exactly the rows Skald
// writes: the sagas with their steps and "saga_created" events; the first step started
// (each saga row rewritten under its lease, the step updated, "attempt_started"); per reply
// the step succeeded and the next started (the saga row, two step rows, two events); the
// last reply with the final state ("saga_completed"). steps + 2 commits per script run.
std::string StorageCeilingScript(int steps, int sagas);

// Runs pgbench's `script`, each run of which writes `sagas_per_run` sagas, with `clients`
// connections for `duration` against `database` of the cluster at `socket_dir`:`port` (its
// Skald schema must be applied, with definition "ceiling" v1). Returns sagas per second.
absl::StatusOr<double> RunPgbench(const std::string& socket_dir, int port,
                                  const std::string& database, const std::string& script,
                                  int sagas_per_run, int clients, std::chrono::seconds duration);

}  // namespace skald::bench
