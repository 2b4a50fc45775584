// SIGTERM while a participant call is in flight: the coordinator waits for the answer,
// records it, and exits 0; the next coordinator carries on from there.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "tests/e2e/saga_harness.h"

namespace skald::testing {
namespace {

using nlohmann::json;

json SlowThenEcho() {
  return json::parse(R"({"name": "slow", "version": 1, "steps": [
    {"name": "slow", "participant": "p0", "action": "sleep", "compensation": "undo",
     "input": {"sleep_ms": 1500}},
    {"name": "after", "participant": "p0", "action": "echo", "compensation": "undo"}]})");
}

TEST(GracefulShutdown, ACallInFlightIsAnsweredAndRecordedBeforeExit) {
  auto harness = SagaHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  CoordinatorProcess& coordinator = (*harness)->coordinator();
  ASSERT_TRUE((*harness)->Apply(SlowThenEcho()).ok());
  auto id = coordinator.StartSaga("slow", json::object());
  ASSERT_TRUE(id.ok()) << id.status();
  // Wait until the participant is inside the slow handler.
  for (int i = 0; i < 200; ++i) {
    auto calls = (*harness)->Calls(*id);
    if (calls.ok() && !calls->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_TRUE(coordinator.Stop(SIGTERM).ok());
  const auto took = std::chrono::steady_clock::now() - signalled;
  EXPECT_EQ(coordinator.last_exit_status(), 0) << coordinator.Log();
  EXPECT_LT(took, std::chrono::seconds(8)) << "well within the 10 s grace period";
  // The answer that arrived during shutdown was recorded; the next step was not sent.
  EXPECT_EQ(coordinator.Count("SELECT count(*) FROM saga_events WHERE saga_id = $1 AND "
                              "type = 'attempt_succeeded' AND step = 'slow'",
                              *id),
            1)
      << coordinator.Log();
  auto calls = (*harness)->Calls(*id);
  ASSERT_TRUE(calls.ok());
  EXPECT_TRUE(CallsOf(*calls, "after").empty());

  // The next coordinator takes the saga over (its own name: the lease was released) and
  // finishes it, sending the step whose intent was committed during shutdown.
  ASSERT_TRUE(coordinator.Start().ok());
  auto saga = coordinator.WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(saga->state(), v1::SAGA_STATE_COMPLETED) << saga->DebugString();
  calls = (*harness)->Calls(*id);
  ASSERT_TRUE(calls.ok());
  EXPECT_EQ(CallsOf(*calls, "slow").size(), 1u) << "the slow step ran once";
  EXPECT_EQ(CallsOf(*calls, "after").size(), 1u);
}

}  // namespace
}  // namespace skald::testing
