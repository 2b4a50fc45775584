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

}  // namespace skald::core
