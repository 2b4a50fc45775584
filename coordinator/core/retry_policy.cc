#include "coordinator/core/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace skald::core {

RetryPolicy DefaultActionRetryPolicy() { return RetryPolicy{}; }

RetryPolicy DefaultCompensationRetryPolicy() {
  RetryPolicy policy;
  policy.max_attempts = 20;
  policy.initial_interval = std::chrono::milliseconds(500);
  policy.max_interval = std::chrono::milliseconds(60'000);
  return policy;
}

std::chrono::milliseconds BackoffBefore(const RetryPolicy& policy, int next_attempt,
                                        double jitter_draw) {
  const int retries_before = std::max(0, next_attempt - 2);
  // Computed in floating point so that large exponents saturate instead of overflowing.
  const double grown = static_cast<double>(policy.initial_interval.count()) *
                       std::pow(policy.backoff_coefficient, retries_before);
  const double capped = std::min(grown, static_cast<double>(policy.max_interval.count()));
  const double jittered = capped * (1.0 - policy.jitter * std::clamp(jitter_draw, 0.0, 1.0));
  return std::chrono::milliseconds(static_cast<long long>(jittered));
}

double JitterDraw(std::string_view saga_id, int step, int attempt) {
  // FNV-1a over the inputs, then the top 53 bits as a fraction.
  uint64_t hash = 14695981039346656037ull;
  auto mix = [&hash](unsigned char byte) {
    hash ^= byte;
    hash *= 1099511628211ull;
  };
  for (char c : saga_id) mix(static_cast<unsigned char>(c));
  for (int value : {step, attempt}) {
    for (int shift = 0; shift < 32; shift += 8) mix(static_cast<unsigned char>(value >> shift));
  }
  return static_cast<double>(hash >> 11) / static_cast<double>(1ull << 53);
}

bool IsNonRetryable(const RetryPolicy& policy, std::string_view error_code) {
  return !error_code.empty() && std::ranges::find(policy.non_retryable_errors, error_code) !=
                                    policy.non_retryable_errors.end();
}

}  // namespace skald::core
