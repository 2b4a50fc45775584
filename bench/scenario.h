#pragma once

#include <chrono>
#include <string>

#include "nlohmann/json.hpp"

namespace skald::bench {

// One kind of saga the benchmark drives: its shape and the participants it calls.
struct Scenario {
  int steps = 3;
  // Every step after none (all at once) rather than each after the one before.
  bool parallel = false;
  // The share of sagas whose last step fails for good, so that the others compensate.
  double compensate_share = 0.0;
  // Participants run every handler behind the SDK's barrier (a transaction in their own
  // database per call) rather than answering at once.
  bool barrier = false;

  // The definition's name, e.g. "bench-3-linear-plain".
  std::string Name() const;
};

// How the load is offered.
struct LoadSpec {
  // Closed loop: `concurrency` sagas in flight, each replaced when it ends. Open loop: a new
  // saga every 1/rate seconds, whenever the others end.
  enum class Mode { kClosed, kOpen } mode = Mode::kClosed;
  int concurrency = 64;
  double rate = 0;
  std::chrono::milliseconds warmup{1'000};
  std::chrono::milliseconds duration{5'000};
  // Sagas still in flight when the measurement ends are waited for at most this long.
  std::chrono::milliseconds drain{20'000};
};

// The definition document for `scenario`, calling the no-op participants at `address`.
nlohmann::json DefinitionFor(const Scenario& scenario, const std::string& address);

// The name of the step whose action fails when a saga's input asks for failure.
std::string FailingStep(const Scenario& scenario);

}  // namespace skald::bench
