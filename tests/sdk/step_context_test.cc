// StepContext's deadline helpers: remaining() and expired().

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "skald/step.h"

namespace skald {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::system_clock;

TEST(StepContextTest, DefaultContextHasNoDeadline) {
  const StepContext context;
  EXPECT_EQ(context.deadline, Clock::time_point::max());
  EXPECT_EQ(context.remaining(), kNoDeadlineRemaining);
  EXPECT_FALSE(context.expired());
}

TEST(StepContextTest, NoDeadlineRemainingCanBeAddedToNow) {
  const Clock::time_point later = Clock::now() + kNoDeadlineRemaining;
  EXPECT_GT(later, Clock::now() + std::chrono::hours(24 * 365 * 9));
  EXPECT_LT(later, Clock::time_point::max());
}

TEST(StepContextTest, FutureDeadlineLeavesTheTimeUntilIt) {
  StepContext context;
  context.deadline = Clock::now() + seconds(5);
  const milliseconds left = context.remaining();
  EXPECT_LE(left, seconds(5));
  EXPECT_GT(left, seconds(4));  // Generous: the two clock reads are microseconds apart.
  EXPECT_FALSE(context.expired());
}

TEST(StepContextTest, PassedDeadlineLeavesNothingAndIsExpired) {
  StepContext context;
  context.deadline = Clock::now() - milliseconds(1);
  EXPECT_EQ(context.remaining(), milliseconds(0));
  EXPECT_TRUE(context.expired());

  context.deadline = Clock::time_point();  // The epoch: long passed.
  EXPECT_EQ(context.remaining(), milliseconds(0));
  EXPECT_TRUE(context.expired());
}

TEST(StepContextTest, ExpiresWhenItsDeadlinePasses) {
  StepContext context;
  context.deadline = Clock::now() + milliseconds(50);
  EXPECT_FALSE(context.expired());
  // Polls with a bound rather than sleeping a guessed time.
  const auto give_up = std::chrono::steady_clock::now() + seconds(5);
  while (!context.expired() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_TRUE(context.expired());
  EXPECT_EQ(context.remaining(), milliseconds(0));
  EXPECT_GE(Clock::now(), context.deadline);
}

}  // namespace
}  // namespace skald
