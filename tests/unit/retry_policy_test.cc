#include "coordinator/core/retry_policy.h"

#include <gtest/gtest.h>

#include "tests/unit/make_policy.h"

namespace skald::core {
namespace {

using std::chrono::milliseconds;

TEST(BackoffBefore, GrowsByTheCoefficientFromTheInitialInterval) {
  RetryPolicy policy = MakePolicy(10, milliseconds(100), 3.0, milliseconds(100'000));
  EXPECT_EQ(BackoffBefore(policy, 2), milliseconds(100));
  EXPECT_EQ(BackoffBefore(policy, 3), milliseconds(300));
  EXPECT_EQ(BackoffBefore(policy, 4), milliseconds(900));
}

TEST(BackoffBefore, IsCappedAtTheMaximumInterval) {
  RetryPolicy policy = MakePolicy(100, milliseconds(200), 2.0, milliseconds(1000));
  EXPECT_EQ(BackoffBefore(policy, 4), milliseconds(800));
  EXPECT_EQ(BackoffBefore(policy, 5), milliseconds(1000));
  // Huge exponents saturate rather than overflow.
  EXPECT_EQ(BackoffBefore(policy, 5000), milliseconds(1000));
}

TEST(BackoffBefore, ACoefficientOfOneKeepsTheIntervalConstant) {
  RetryPolicy policy = MakePolicy(5, milliseconds(50), 1.0, milliseconds(50));
  for (int attempt = 2; attempt <= 5; ++attempt) {
    EXPECT_EQ(BackoffBefore(policy, attempt), milliseconds(50));
  }
}

TEST(DefaultPolicies, CompensationsAreRetriedLongerThanActions) {
  EXPECT_GT(DefaultCompensationRetryPolicy().max_attempts, DefaultActionRetryPolicy().max_attempts);
  EXPECT_GE(DefaultCompensationRetryPolicy().max_interval, DefaultActionRetryPolicy().max_interval);
}

}  // namespace
}  // namespace skald::core
