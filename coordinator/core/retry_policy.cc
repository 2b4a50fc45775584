#include "coordinator/core/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace skald::core {

RetryPolicy DefaultActionRetryPolicy() { return RetryPolicy{}; }

RetryPolicy DefaultCompensationRetryPolicy() {
  return RetryPolicy{.max_attempts = 20,
                     .initial_interval = std::chrono::milliseconds(500),
                     .backoff_coefficient = 2.0,
                     .max_interval = std::chrono::milliseconds(60'000)};
}

std::chrono::milliseconds BackoffBefore(const RetryPolicy& policy, int next_attempt) {
  const int retries_before = std::max(0, next_attempt - 2);
  // Computed in floating point so that large exponents saturate instead of overflowing.
  const double grown = static_cast<double>(policy.initial_interval.count()) *
                       std::pow(policy.backoff_coefficient, retries_before);
  const double capped = std::min(grown, static_cast<double>(policy.max_interval.count()));
  return std::chrono::milliseconds(static_cast<long long>(capped));
}

}  // namespace skald::core
