#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/core/retry_policy.h"
#include "nlohmann/json.hpp"

namespace skald::core {

// One step of a saga: a forward action on a participant and, optionally, the compensation
// that undoes it.
struct StepDefinition {
  std::string name;
  // "host:port" of the participant serving the action and the compensation.
  std::string participant;
  std::string action;
  // Empty when the step has nothing to undo.
  std::string compensation;
  RetryPolicy retry = DefaultActionRetryPolicy();
  RetryPolicy compensation_retry = DefaultCompensationRetryPolicy();
  // The deadline of one participant call.
  std::chrono::milliseconds attempt_timeout{10'000};
  // Indices of the steps that must succeed before this one starts.
  std::vector<int> after;

  bool has_compensation() const { return !compensation.empty(); }
};

// A named, versioned saga: what the coordinator runs when a saga of this name starts.
struct SagaDefinition {
  std::string name;
  int version = 0;
  std::vector<StepDefinition> steps;
  // The document as applied, kept so that the stored definition is exactly what was sent.
  nlohmann::json document;

  // Returns the index of the step called `name`, or nullopt.
  std::optional<int> StepIndex(std::string_view step_name) const;

  // Returns the indices of the steps that list `step` in their `after`.
  std::vector<int> Dependents(int step) const;
};

}  // namespace skald::core
