#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "coordinator/core/saga_state.h"

namespace skald::sim {

// Simulated time since the simulation began.
using SimDuration = std::chrono::microseconds;

// The simulator's one source of time and order: events at simulated times, run one at a
// time on the caller's thread, earliest first and, at equal times, in the order they were
// scheduled, so that a seed replays exactly. Keeps a trace of what ran (and of notes), and
// a hash of it, to compare runs and to print a failing one.
class Scheduler {
 public:
  // `epoch`: the wall-clock time the simulation begins at.
  explicit Scheduler(core::TimePoint epoch) : epoch_(epoch) {}

  SimDuration elapsed() const { return elapsed_; }
  // The wall clock of the simulated world (the database's clock).
  core::TimePoint now() const { return epoch_ + elapsed_; }
  core::TimePoint epoch() const { return epoch_; }

  // Runs `action` at `at` (not before now). `what` is traced when it runs; empty: not traced.
  void At(SimDuration at, std::string what, std::function<void()> action);
  void After(SimDuration delay, std::string what, std::function<void()> action) {
    At(elapsed_ + delay, std::move(what), std::move(action));
  }

  // Runs the earliest event if it is due by `until`, moving time to it; returns false when
  // there is none that early (time is then moved to `until`).
  bool RunNext(SimDuration until);

  // Adds a line to the trace at the current time.
  void Note(const std::string& line);

  const std::vector<std::string>& trace() const { return trace_; }
  // FNV-1a over every trace line: equal for equal traces.
  uint64_t trace_hash() const { return hash_; }
  uint64_t events_run() const { return events_run_; }

 private:
  struct Event {
    SimDuration at;
    uint64_t sequence;
    std::string what;
    std::function<void()> action;
    bool operator>(const Event& other) const {
      return at != other.at ? at > other.at : sequence > other.sequence;
    }
  };

  const core::TimePoint epoch_;
  SimDuration elapsed_{0};
  uint64_t next_sequence_ = 0;
  uint64_t events_run_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<std::string> trace_;
  uint64_t hash_ = 14695981039346656037ull;
};

}  // namespace skald::sim
