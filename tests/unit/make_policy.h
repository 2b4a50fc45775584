#pragma once

#include <chrono>

#include "coordinator/core/retry_policy.h"

namespace skald::core {

// Returns a policy without jitter or non-retryable codes, for tests.
inline RetryPolicy MakePolicy(int max_attempts, std::chrono::milliseconds initial,
                              double coefficient, std::chrono::milliseconds max) {
  RetryPolicy policy;
  policy.max_attempts = max_attempts;
  policy.initial_interval = initial;
  policy.backoff_coefficient = coefficient;
  policy.max_interval = max;
  return policy;
}

}  // namespace skald::core
