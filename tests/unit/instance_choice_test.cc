#include "coordinator/core/instance_choice.h"

#include <gtest/gtest.h>

#include <map>

#include "coordinator/core/participant_instance.h"
#include "coordinator/core/trace_context.h"

namespace skald::core {
namespace {

using std::chrono::milliseconds;

const TimePoint kNow = TimePoint(std::chrono::hours(1000));

InstanceCandidate Healthy(std::string id) { return {std::move(id), true, std::nullopt}; }
InstanceCandidate EjectedFor(std::string id, milliseconds left) {
  return {std::move(id), true, kNow + left};
}

TEST(ChooseInstance, HealthyInstancesTakeTurns) {
  const std::vector<InstanceCandidate> candidates = {Healthy("a"), Healthy("b"), Healthy("c")};
  std::map<size_t, int> chosen;
  for (uint64_t turn = 0; turn < 300; ++turn) {
    std::optional<size_t> index = ChooseInstance(candidates, {}, turn, kNow);
    ASSERT_TRUE(index.has_value());
    ++chosen[*index];
  }
  EXPECT_EQ(chosen, (std::map<size_t, int>{{0, 100}, {1, 100}, {2, 100}}));
}

TEST(ChooseInstance, SkipsInstancesThatDoNotServeTheHandler) {
  const std::vector<InstanceCandidate> candidates = {{"a", false, std::nullopt}, Healthy("b")};
  for (uint64_t turn = 0; turn < 4; ++turn) {
    EXPECT_EQ(ChooseInstance(candidates, {}, turn, kNow), 1u);
  }
  EXPECT_EQ(ChooseInstance({{"a", false, std::nullopt}}, {}, 0, kNow), std::nullopt);
}

TEST(ChooseInstance, SkipsInstancesThisAttemptAlreadyTried) {
  const std::vector<InstanceCandidate> candidates = {Healthy("a"), Healthy("b")};
  for (uint64_t turn = 0; turn < 4; ++turn) {
    EXPECT_EQ(ChooseInstance(candidates, {"a"}, turn, kNow), 1u);
  }
  EXPECT_EQ(ChooseInstance(candidates, {"a", "b"}, 0, kNow), std::nullopt);
}

TEST(ChooseInstance, AvoidsEjectedInstancesWhileAHealthyOneRemains) {
  const std::vector<InstanceCandidate> candidates = {EjectedFor("a", milliseconds(500)),
                                                     Healthy("b")};
  for (uint64_t turn = 0; turn < 4; ++turn) {
    EXPECT_EQ(ChooseInstance(candidates, {}, turn, kNow), 1u);
  }
}

TEST(ChooseInstance, AnEjectionThatEndedCountsAsHealthy) {
  const std::vector<InstanceCandidate> candidates = {EjectedFor("a", milliseconds(0)),
                                                     Healthy("b")};
  std::map<size_t, int> chosen;
  for (uint64_t turn = 0; turn < 4; ++turn) ++chosen[*ChooseInstance(candidates, {}, turn, kNow)];
  EXPECT_EQ(chosen, (std::map<size_t, int>{{0, 2}, {1, 2}}));
}

TEST(ChooseInstance, WhenAllAreEjectedPicksTheOneBackSoonest) {
  const std::vector<InstanceCandidate> candidates = {EjectedFor("a", milliseconds(900)),
                                                     EjectedFor("b", milliseconds(200)),
                                                     EjectedFor("c", milliseconds(400))};
  EXPECT_EQ(ChooseInstance(candidates, {}, 7, kNow), 1u);
  EXPECT_EQ(ChooseInstance(candidates, {"b"}, 7, kNow), 2u);
}

TEST(ChooseInstance, NoCandidatesNoChoice) {
  EXPECT_EQ(ChooseInstance({}, {}, 0, kNow), std::nullopt);
}

TEST(EjectionFor, DoublesFromOneSecondUpToThirty) {
  EXPECT_EQ(EjectionFor(1), milliseconds(1'000));
  EXPECT_EQ(EjectionFor(2), milliseconds(2'000));
  EXPECT_EQ(EjectionFor(3), milliseconds(4'000));
  EXPECT_EQ(EjectionFor(5), milliseconds(16'000));
  EXPECT_EQ(EjectionFor(6), milliseconds(30'000));
  EXPECT_EQ(EjectionFor(1'000), milliseconds(30'000));
}

TEST(ParticipantInstance, ServesWhatItRegisteredPerPhase) {
  ParticipantInstance instance;
  instance.actions = {"reserve"};
  instance.compensations = {"release"};
  EXPECT_TRUE(instance.Serves(Phase::kAction, "reserve"));
  EXPECT_FALSE(instance.Serves(Phase::kCompensation, "reserve"));
  EXPECT_TRUE(instance.Serves(Phase::kCompensation, "release"));
  EXPECT_FALSE(instance.Serves(Phase::kAction, "charge"));
}

TEST(TraceParent, OneTracePerSagaOneSpanPerAttempt) {
  const std::string first = TraceParent("saga-1", "charge", Phase::kAction, 1);
  ASSERT_EQ(first.size(), 55u) << first;
  EXPECT_EQ(first.substr(0, 3), "00-");
  EXPECT_EQ(first.substr(first.size() - 3), "-01");
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef-"), std::string::npos) << first;
  const std::string trace = first.substr(3, 32);
  const std::string retry = TraceParent("saga-1", "charge", Phase::kAction, 2);
  const std::string compensation = TraceParent("saga-1", "charge", Phase::kCompensation, 1);
  const std::string other_saga = TraceParent("saga-2", "charge", Phase::kAction, 1);
  EXPECT_EQ(retry.substr(3, 32), trace);
  EXPECT_EQ(compensation.substr(3, 32), trace);
  EXPECT_NE(other_saga.substr(3, 32), trace);
  EXPECT_NE(retry.substr(36, 16), first.substr(36, 16));
  EXPECT_NE(compensation.substr(36, 16), first.substr(36, 16));
  // Derived, not random: a coordinator taking the saga over continues the same trace.
  EXPECT_EQ(TraceParent("saga-1", "charge", Phase::kAction, 1), first);
}

}  // namespace
}  // namespace skald::core
