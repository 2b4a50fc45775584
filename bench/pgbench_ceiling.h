#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace skald::bench {

// What pgbench reached writing what Skald writes for one saga of `steps` linear steps, with
// one commit per state change: the saga with its steps and first event; per step, the
// attempt started and then its success (each fencing the saga row, updating the step and
// appending an event); the final state. 2 * steps + 2 commits per saga.
struct Ceiling {
  int steps = 0;
  int clients = 0;
  double sagas_per_second = 0;
  int commits_per_saga = 0;
};

// Returns pgbench's transaction script for `steps` steps: one script run is one saga.
std::string CeilingScript(int steps);

// Runs pgbench with `clients` connections for `duration` against `database` of the cluster
// at `socket_dir`:`port` (its Skald schema must be applied, with definition "ceiling" v1).
absl::StatusOr<Ceiling> MeasureCeiling(const std::string& socket_dir, int port,
                                       const std::string& database, int steps, int clients,
                                       std::chrono::seconds duration);

}  // namespace skald::bench
