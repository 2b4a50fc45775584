#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace skald::core {

// How often, and how far apart, the attempts of one step phase are made.
struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_interval{200};
  double backoff_coefficient = 2.0;
  std::chrono::milliseconds max_interval{10'000};
  // Each wait is shortened by up to this fraction of itself (0 to 1), so that sagas that
  // failed together do not retry together.
  double jitter = 0.0;
  // Error codes that end the phase at once, as a business failure does.
  std::vector<std::string> non_retryable_errors;

  bool operator==(const RetryPolicy&) const = default;
};

// Returns the policy a step's action gets when neither it nor the definition names one.
RetryPolicy DefaultActionRetryPolicy();

// Returns the policy a compensation gets when none is named: compensations must finish for
// the saga to be consistent, so they are retried longer.
RetryPolicy DefaultCompensationRetryPolicy();

// Returns the wait before attempt `next_attempt` (2 for the first retry): the initial
// interval grown by the coefficient for each earlier retry, capped at max_interval, then
// shortened by `jitter_draw` (a number in [0, 1)) times the policy's jitter fraction.
// REQUIRES: next_attempt >= 2.
std::chrono::milliseconds BackoffBefore(const RetryPolicy& policy, int next_attempt,
                                        double jitter_draw = 0.0);

// Returns a number in [0, 1) that depends only on its arguments: the jitter of one retry,
// reproducible so that the state machine stays a pure function.
double JitterDraw(std::string_view saga_id, int step, int attempt);

// True when `error_code` is one the policy must not retry.
bool IsNonRetryable(const RetryPolicy& policy, std::string_view error_code);

}  // namespace skald::core
