#include "tests/sim/scheduler.h"

#include <cstdio>

namespace skald::sim {

void Scheduler::At(SimDuration at, std::string what, std::function<void()> action) {
  events_.push(Event{std::max(at, elapsed_), next_sequence_++, std::move(what), std::move(action)});
}

bool Scheduler::RunNext(SimDuration until) {
  if (events_.empty() || events_.top().at > until) {
    elapsed_ = std::max(elapsed_, until);
    return false;
  }
  // Moved out before running: the action may schedule more events.
  Event event = std::move(const_cast<Event&>(events_.top()));
  events_.pop();
  elapsed_ = event.at;
  ++events_run_;
  if (!event.what.empty()) Note(event.what);
  event.action();
  return true;
}

void Scheduler::Note(const std::string& line) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%10.6f ", static_cast<double>(elapsed_.count()) / 1e6);
  std::string entry = stamp + line;
  for (unsigned char c : entry) {
    hash_ ^= c;
    hash_ *= 1099511628211ull;
  }
  hash_ ^= '\n';
  hash_ *= 1099511628211ull;
  trace_.push_back(std::move(entry));
}

}  // namespace skald::sim
