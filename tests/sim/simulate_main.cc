// skald_simulate: runs the deterministic simulator over many seeds (scripts/simulate.sh).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include "tests/sim/simulation.h"

int main(int argc, char** argv) {
  skald::sim::SimulationOptions base;
  uint64_t first_seed = 1;
  uint64_t seeds = 1;
  bool print_trace = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--seeds") {
      seeds = std::stoull(value());
    } else if (arg == "--seed") {
      first_seed = std::stoull(value());
    } else if (arg == "--trace") {
      print_trace = true;
    } else if (arg == "--mutation") {
      const std::string mutation = value();
      if (mutation == "fencing-off") {
        base.disable_fencing_for_mutation_test = true;
      } else if (mutation == "swallow-replies") {
        base.swallow_replies_for_mutation_test = true;
      } else if (mutation == "no-self-check") {
        base.disable_self_check_for_mutation_test = true;
      } else {
        std::cerr << "unknown mutation " << mutation
                  << " (fencing-off, swallow-replies, no-self-check; may be repeated)\n";
        return 2;
      }
    } else {
      std::cerr << "usage: skald_simulate [--seeds N] [--seed FIRST] [--trace]"
                   " [--mutation fencing-off|swallow-replies|no-self-check]...\n";
      return 2;
    }
  }
  const auto began = std::chrono::steady_clock::now();
  std::map<std::string, int64_t> faults;
  std::map<std::string, int64_t> end_states;
  std::map<std::string, int64_t> barrier;
  uint64_t failed = 0;
  uint64_t events = 0;
  double simulated = 0;
  for (uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    skald::sim::SimulationOptions options = base;
    options.seed = seed;
    skald::sim::SimulationReport report = skald::sim::RunSimulation(options);
    for (const auto& [name, count] : report.faults) faults[name] += count;
    for (const auto& [name, count] : report.end_states) end_states[name] += count;
    for (const auto& [name, count] : report.barrier) barrier[name] += count;
    events += report.events_run;
    simulated += report.simulated_seconds;
    if (!report.violations.empty()) {
      ++failed;
      std::cout << skald::sim::DescribeFailure(options, report, print_trace ? 0 : 200);
    } else if (print_trace) {
      for (const std::string& line : report.trace) std::cout << line << "\n";
      std::printf("seed %llu: every invariant held (trace hash %016llx)\n",
                  static_cast<unsigned long long>(seed),
                  static_cast<unsigned long long>(report.trace_hash));
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf(
      "%llu seed(s) from %llu: %llu failed; %.1f s wall, %.0f runs/minute, %.0f simulated "
      "s, %llu events\n",
      static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(first_seed),
      static_cast<unsigned long long>(failed), wall, seeds / wall * 60, simulated,
      static_cast<unsigned long long>(events));
  std::printf("end states:");
  for (const auto& [name, count] : end_states)
    std::printf(" %s=%lld", name.c_str(), static_cast<long long>(count));
  std::printf("\nbarrier:");
  for (const auto& [name, count] : barrier) {
    std::printf(" %s=%lld", name.c_str(), static_cast<long long>(count));
  }
  std::printf("\nfaults injected:\n");
  for (const auto& [name, count] : faults)
    std::printf("  %-48s %lld\n", name.c_str(), static_cast<long long>(count));
  return failed == 0 ? 0 : 1;
}
