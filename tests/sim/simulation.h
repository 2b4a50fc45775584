#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace skald::sim {

struct SimulationOptions {
  uint64_t seed = 1;
  // TEST ONLY, mutation checks: the simulator must report violations with these.
  // The store ignores lease tokens on commit (MemorySagaStore's fencing-off switch).
  bool disable_fencing_for_mutation_test = false;
  // The transport drops some replies without ever reporting their calls.
  bool swallow_replies_for_mutation_test = false;
  // The engines check for sagas without a way forward only once an hour (the self-check
  // is what takes up a saga whose reply was swallowed).
  bool disable_self_check_for_mutation_test = false;
};

struct SimulationReport {
  uint64_t seed = 0;
  // Empty when every invariant held.
  std::vector<std::string> violations;
  // Every event and note, with its simulated time; and a hash of them.
  std::vector<std::string> trace;
  uint64_t trace_hash = 0;
  uint64_t events_run = 0;
  double simulated_seconds = 0;
  int coordinators = 0;
  int sagas_started = 0;
  int sagas_acknowledged = 0;
  // By end state: "COMPLETED", "COMPENSATED", "FAILED", ...
  std::map<std::string, int> end_states;
  // How many of each fault were injected: "store:CommitTransitions:deadlock", "crash", ...
  std::map<std::string, int> faults;
  // What the participants' barrier saw: "deliveries", "replays", "null_compensations",
  // "refused_actions" (compensated before the action arrived).
  std::map<std::string, int> barrier;
};

// Runs one seeded simulation: two or three coordinators (the real Engine, LeaseKeeper,
// CallRouter and api::SagaOperations each) on one thread over a MemorySagaStore and the
// simulated participants and network, with faults for a while, then none until every saga
// settles (bounded); then checks the invariants (invariants.h). Same seed, same report.
SimulationReport RunSimulation(const SimulationOptions& options);

// The command that replays `options` exactly (scripts/simulate.sh).
std::string ReplayCommand(const SimulationOptions& options);

}  // namespace skald::sim

namespace skald::sim {

// What a failing run prints: the seed, the replay command, the violations, and the last
// `trace_lines` lines of its trace (all when 0).
std::string DescribeFailure(const SimulationOptions& options, const SimulationReport& report,
                            size_t trace_lines);

}  // namespace skald::sim
