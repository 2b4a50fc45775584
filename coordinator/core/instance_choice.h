#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/core/saga_state.h"

// Which instance of a service receives a call: the load-balancing and outlier-ejection
// decisions, kept pure so that every rule is unit-tested without a network.
namespace skald::core {

// What the choice needs to know about one instance of the service.
struct InstanceCandidate {
  std::string instance_id;
  // Registered the handler the call needs.
  bool serves = false;
  // Until then, recent calls to it failed: it is used only if no healthy instance is left.
  std::optional<TimePoint> ejected_until;
};

// Returns the index in `candidates` of the instance to call, or nullopt when none may be
// called. Only instances that serve the handler and are not in `tried` (the instances this
// attempt already failed on) are eligible. Healthy ones (not ejected at `now`) take turns:
// `turn` is a counter the caller increases per call, so calls spread evenly. When every
// eligible instance is ejected, the one whose ejection ends first is chosen rather than
// none: a service whose only instance failed once still gets its retries.
std::optional<size_t> ChooseInstance(const std::vector<InstanceCandidate>& candidates,
                                     const std::set<std::string>& tried, uint64_t turn,
                                     TimePoint now);

// How long an instance is ejected after `consecutive_failures` (>= 1) failed calls in a row:
// one second, doubled per further failure, at most thirty seconds.
std::chrono::milliseconds EjectionFor(int consecutive_failures);

}  // namespace skald::core
