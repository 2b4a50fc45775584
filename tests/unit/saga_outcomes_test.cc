#include "coordinator/engine/saga_outcomes.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "coordinator/api/saga_waiters.h"

namespace skald::engine {
namespace {

using namespace std::chrono_literals;
using core::SagaStatus;

// A stored saga whose state the test changes, counting reads.
struct FakeStore {
  std::atomic<SagaStatus> status = SagaStatus::kRunning;
  std::atomic<int> reads = 0;
  SagaOutcomes::Load Loader() {
    return [this]() -> absl::StatusOr<store::SagaOutcome> {
      ++reads;
      return store::SagaOutcome{status.load(), ""};
    };
  }
};

TEST(SagaOutcomesTest, AnsweredFromTheStoreWhenAlreadyFinished) {
  SagaOutcomes outcomes;
  FakeStore store;
  store.status = SagaStatus::kCompensated;
  auto outcome = outcomes.Await("s", 10s, store.Loader());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, SagaStatus::kCompensated);
  EXPECT_EQ(store.reads, 1);
  EXPECT_EQ(outcomes.waiting(), 0u);
}

TEST(SagaOutcomesTest, APublishedEndWakesEveryWaiterAtOnce) {
  SagaOutcomes outcomes(std::chrono::hours(1));  // no rereading: only Publish can wake them
  FakeStore store;
  std::vector<std::thread> waiters;
  std::atomic<int> completed = 0;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      auto outcome = outcomes.Await("s", 30s, store.Loader());
      if (outcome.ok() && outcome->status == SagaStatus::kCompleted) ++completed;
    });
  }
  while (outcomes.waiting() == 0 || store.reads < 3) std::this_thread::sleep_for(1ms);
  outcomes.Publish("other", {SagaStatus::kFailed, "x"});
  outcomes.Publish("s", {SagaStatus::kCompleted, ""});
  for (auto& t : waiters) t.join();
  EXPECT_EQ(completed, 3);
  EXPECT_EQ(outcomes.waiting(), 0u);
}

TEST(SagaOutcomesTest, AnEndNobodyPublishesIsFoundByRereadingTheStore) {
  SagaOutcomes outcomes(20ms);
  FakeStore store;
  std::thread finisher([&] {
    std::this_thread::sleep_for(50ms);
    store.status = SagaStatus::kCompleted;  // e.g. driven by another coordinator
  });
  auto outcome = outcomes.Await("s", 10s, store.Loader());
  finisher.join();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, SagaStatus::kCompleted);
  EXPECT_GE(store.reads, 2);
}

TEST(SagaOutcomesTest, TimesOutWithTheStoredState) {
  SagaOutcomes outcomes(10ms);
  FakeStore store;
  const auto started = std::chrono::steady_clock::now();
  auto outcome = outcomes.Await("s", 60ms, store.Loader());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, SagaStatus::kRunning);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 60ms);
  EXPECT_EQ(outcomes.waiting(), 0u);
}

TEST(SagaOutcomesTest, StoreErrorsAreReturned) {
  SagaOutcomes outcomes;
  auto outcome = outcomes.Await("s", 1s, []() -> absl::StatusOr<store::SagaOutcome> {
    return absl::NotFoundError("no saga with id \"s\"");
  });
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(outcomes.waiting(), 0u);
}

TEST(SagaOutcomesTest, ASagaMarkedDrivenIsSoUntilItsEndIsPublished) {
  SagaOutcomes outcomes;
  outcomes.MarkDriven("s");
  bool driven = false;
  std::optional<SagaStatus> heard;
  outcomes.Listen(
      "s", [&](const store::SagaOutcome& o) { heard = o.status; }, &driven);
  EXPECT_TRUE(driven);
  outcomes.Listen(
      "other", [](const store::SagaOutcome&) {}, &driven);
  EXPECT_FALSE(driven) << "never marked";
  outcomes.Publish("s", {SagaStatus::kCompleted, ""});
  EXPECT_EQ(heard, SagaStatus::kCompleted);
  outcomes.Listen(
      "s", [](const store::SagaOutcome&) {}, &driven);
  EXPECT_FALSE(driven) << "ended: a later waiter must read the store";
}

TEST(SagaOutcomesTest, ADrivenMarkIsAHintThatExpires) {
  SagaOutcomes outcomes(1s, /*driven_hint_ttl=*/20ms);
  outcomes.MarkDriven("s");
  std::this_thread::sleep_for(40ms);
  bool driven = true;
  outcomes.Listen(
      "s", [](const store::SagaOutcome&) {}, &driven);
  EXPECT_FALSE(driven);
}

// Starts a wait for "s" and returns its answer to come.
std::future<absl::StatusOr<store::SagaOutcome>> WaitForS(api::SagaWaiters& waiters,
                                                         FakeStore& store) {
  auto answered = std::make_shared<std::promise<absl::StatusOr<store::SagaOutcome>>>();
  auto future = answered->get_future();
  const absl::Status started = waiters.Wait(
      "s", 30s, store.Loader(), [] { return false; },
      [answered](const absl::StatusOr<store::SagaOutcome>& o) { answered->set_value(o); });
  EXPECT_TRUE(started.ok()) << started;
  return future;
}

TEST(SagaOutcomesTest, DrivenHintsAreBoundedAndNewOnesStillCount) {
  SagaOutcomes outcomes;
  for (size_t i = 0; i < SagaOutcomes::kMaxDrivenHints; ++i) {
    outcomes.MarkDriven("s" + std::to_string(i));
  }
  outcomes.MarkDriven("new");  // all live: the old hints are forgotten, not this one
  bool driven = false;
  outcomes.Listen(
      "new", [](const store::SagaOutcome&) {}, &driven);
  EXPECT_TRUE(driven);
  outcomes.Listen(
      "s0", [](const store::SagaOutcome&) {}, &driven);
  EXPECT_FALSE(driven);
}

// AwaitSaga's waiter skips its first read for a saga this engine drives, and still hears of
// its end, whether published here or found by a re-read after it ended elsewhere.
TEST(SagaWaitersTest, AWaiterOfASagaDrivenHereReadsNothingUntilItsEnd) {
  SagaOutcomes outcomes(1s);
  api::SagaWaiters waiters(outcomes, {.max_waiting = 10, .workers = 1, .recheck = 1h});
  FakeStore store;
  outcomes.MarkDriven("s");
  auto answered = WaitForS(waiters, store);
  EXPECT_EQ(store.reads, 0);
  outcomes.Publish("s", {SagaStatus::kCompensated, "e"});
  auto outcome = answered.get();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, SagaStatus::kCompensated);
  EXPECT_EQ(store.reads, 0);
}

TEST(SagaWaitersTest, AWaiterOfASagaNotDrivenHereReadsItFirst) {
  SagaOutcomes outcomes(1s);
  api::SagaWaiters waiters(outcomes, {.max_waiting = 10, .workers = 1, .recheck = 20ms});
  FakeStore store;
  store.status = SagaStatus::kCompleted;  // ended before the wait began
  auto answered = WaitForS(waiters, store);
  auto outcome = answered.get();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, SagaStatus::kCompleted);
  EXPECT_EQ(store.reads, 1);
}

TEST(SagaWaitersTest, ADrivenSagaEndedElsewhereIsFoundByTheReread) {
  SagaOutcomes outcomes(1s);
  api::SagaWaiters waiters(outcomes, {.max_waiting = 10, .workers = 1, .recheck = 20ms});
  FakeStore store;
  outcomes.MarkDriven("s");  // then its lease was lost, and another coordinator ended it
  store.status = SagaStatus::kCompleted;
  auto answered = WaitForS(waiters, store);
  ASSERT_EQ(answered.wait_for(10s), std::future_status::ready);
  auto outcome = answered.get();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, SagaStatus::kCompleted);
  EXPECT_GE(store.reads, 1);
}

}  // namespace
}  // namespace skald::engine
