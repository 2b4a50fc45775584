#pragma once

#include <chrono>

namespace skald::core {

// How often, and how far apart, the attempts of one step phase are made.
struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_interval{200};
  double backoff_coefficient = 2.0;
  std::chrono::milliseconds max_interval{10'000};

  bool operator==(const RetryPolicy&) const = default;
};

// Returns the policy a step's action gets when its definition names none.
RetryPolicy DefaultActionRetryPolicy();

// Returns the policy a compensation gets when its definition names none: compensations must
// finish for the saga to be consistent, so they are retried longer.
RetryPolicy DefaultCompensationRetryPolicy();

// Returns the wait before attempt `next_attempt` (2 for the first retry): the initial
// interval grown by the coefficient for each earlier retry, capped at max_interval.
// REQUIRES: next_attempt >= 2.
std::chrono::milliseconds BackoffBefore(const RetryPolicy& policy, int next_attempt);

}  // namespace skald::core
