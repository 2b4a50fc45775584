#include "coordinator/core/instance_choice.h"

#include <algorithm>

namespace skald::core {

std::optional<size_t> ChooseInstance(const std::vector<InstanceCandidate>& candidates,
                                     const std::set<std::string>& tried, uint64_t turn,
                                     TimePoint now) {
  std::vector<size_t> healthy;
  std::optional<size_t> least_ejected;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const InstanceCandidate& candidate = candidates[i];
    if (!candidate.serves || tried.count(candidate.instance_id) > 0) continue;
    if (!candidate.ejected_until || *candidate.ejected_until <= now) {
      healthy.push_back(i);
    } else if (!least_ejected ||
               *candidate.ejected_until < *candidates[*least_ejected].ejected_until) {
      least_ejected = i;
    }
  }
  if (!healthy.empty()) return healthy[turn % healthy.size()];
  return least_ejected;
}

std::chrono::milliseconds EjectionFor(int consecutive_failures) {
  constexpr std::chrono::milliseconds kFirst{1'000};
  constexpr std::chrono::milliseconds kLongest{30'000};
  const int doublings = std::clamp(consecutive_failures - 1, 0, 5);
  return std::min(kFirst * (1 << doublings), kLongest);
}

}  // namespace skald::core
