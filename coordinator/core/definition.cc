#include "coordinator/core/definition.h"

#include <algorithm>

namespace skald::core {

std::optional<int> SagaDefinition::StepIndex(std::string_view step_name) const {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].name == step_name) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::vector<int> SagaDefinition::Dependents(int step) const {
  std::vector<int> dependents;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (std::ranges::find(steps[i].after, step) != steps[i].after.end()) {
      dependents.push_back(static_cast<int>(i));
    }
  }
  return dependents;
}

bool SagaDefinition::IsAncestor(int ancestor, int step) const {
  // Definitions are acyclic (the parser rejects cycles), so a plain walk terminates; the
  // visited set keeps it linear.
  std::vector<bool> seen(steps.size(), false);
  std::vector<int> pending = steps[step].after;
  while (!pending.empty()) {
    const int current = pending.back();
    pending.pop_back();
    if (current == ancestor) return true;
    if (seen[current]) continue;
    seen[current] = true;
    for (int next : steps[current].after) pending.push_back(next);
  }
  return false;
}

std::optional<int> SagaDefinition::Pivot() const {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].pivot) return static_cast<int>(i);
  }
  return std::nullopt;
}

}  // namespace skald::core
