// Drives many sagas through random interleavings of replies, duplicates, early timers and
// coordinator restarts, and checks the invariants every run must keep.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "coordinator/core/state_machine.h"
#include "tests/unit/make_policy.h"

namespace skald::core {
namespace {

using std::chrono::milliseconds;

SagaDefinition Definition(int steps, std::mt19937& random) {
  SagaDefinition definition;
  definition.name = "sim";
  definition.version = 1;
  for (int i = 0; i < steps; ++i) {
    StepDefinition step;
    step.name = "s" + std::to_string(i);
    step.participant = "127.0.0.1:1";
    step.action = "do";
    if (random() % 4 != 0) step.compensation = "undo";
    step.retry =
        MakePolicy(1 + static_cast<int>(random() % 4), milliseconds(10), 2.0, milliseconds(40));
    step.compensation_retry =
        MakePolicy(1 + static_cast<int>(random() % 5), milliseconds(5), 1.0, milliseconds(5));
    if (i > 0) step.after = {i - 1};
    definition.steps.push_back(step);
  }
  return definition;
}

bool Settled(const StepState& s) {
  return s.status == StepStatus::kPending || s.status == StepStatus::kCompensated ||
         (s.status == StepStatus::kFailed && !s.outcome_unknown);
}

class Simulation {
 public:
  explicit Simulation(unsigned seed) : random_(seed) {
    definition_ = Definition(1 + static_cast<int>(random_() % 5), random_);
    state_ = NewSagaState("sim", nlohmann::json::object(), definition_.steps.size());
  }

  SagaStatus Run() {
    Apply(SagaResumed{});
    for (int i = 0; i < 10'000 && !IsTerminal(state_.status); ++i) Step();
    EXPECT_TRUE(IsTerminal(state_.status)) << "saga did not finish within 10000 events";
    CheckFinalState();
    return state_.status;
  }

 private:
  void Step() {
    const unsigned choice = random_() % 20;
    if (choice == 0) {
      // The coordinator restarts: everything in memory is lost.
      calls_.clear();
      timers_.clear();
      Apply(SagaResumed{});
    } else if (choice == 1 && !timers_.empty()) {
      // A timer fires early.
      Apply(timers_[random_() % timers_.size()].second);
    } else if (choice == 2 && !delivered_.empty()) {
      // A reply is delivered twice.
      Apply(delivered_[random_() % delivered_.size()]);
    } else if (!calls_.empty() && (timers_.empty() || random_() % 3 != 0)) {
      const size_t index = random_() % calls_.size();
      const CallParticipant call = calls_[index];
      calls_.erase(calls_.begin() + static_cast<long>(index));
      AttemptFinished reply{call.step, call.phase, call.attempt, RandomOutcome(), nullptr, "e"};
      if (reply.outcome == AttemptOutcome::kSuccess) reply.output = {{"n", call.attempt}};
      delivered_.push_back(reply);
      Apply(reply);
    } else if (!timers_.empty()) {
      auto earliest = std::ranges::min_element(timers_, {}, [](auto& t) { return t.first; });
      auto [at, due] = *earliest;
      timers_.erase(earliest);
      now_ = std::max(now_, at);
      Apply(due);
    }
  }

  AttemptOutcome RandomOutcome() {
    const unsigned r = random_() % 10;
    if (r < 6) return AttemptOutcome::kSuccess;
    if (r < 9) return AttemptOutcome::kRetryableError;
    return AttemptOutcome::kFailure;
  }

  void Apply(const Event& event) {
    Transition t = Decide(definition_, state_, event, now_);
    for (const Command& command : t.commands) {
      if (const auto* call = std::get_if<CallParticipant>(&command)) {
        CheckCall(t.state, *call);
        calls_.push_back(*call);
      } else if (const auto* retry = std::get_if<ScheduleRetry>(&command)) {
        timers_.emplace_back(retry->at, RetryDue{retry->step, retry->phase});
      }
    }
    state_ = std::move(t.state);
  }

  // A call goes out only for the attempt the state records as in flight, and a compensation
  // only once everything that depends on its step is settled.
  void CheckCall(const SagaState& state, const CallParticipant& call) {
    const StepState& step = state.steps[call.step];
    EXPECT_FALSE(step.retry_at.has_value());
    if (call.phase == Phase::kAction) {
      EXPECT_EQ(state.status, SagaStatus::kRunning);
      EXPECT_EQ(step.status, StepStatus::kRunning);
      EXPECT_EQ(step.attempts, call.attempt);
      EXPECT_LE(call.attempt, definition_.steps[call.step].retry.max_attempts);
    } else {
      EXPECT_EQ(state.status, SagaStatus::kCompensating);
      EXPECT_EQ(step.status, StepStatus::kCompensating);
      EXPECT_EQ(step.compensation_attempts, call.attempt);
      EXPECT_LE(call.attempt, definition_.steps[call.step].compensation_retry.max_attempts);
      for (int dependent : definition_.Dependents(call.step)) {
        EXPECT_TRUE(Settled(state.steps[dependent])) << "step " << dependent;
      }
    }
  }

  void CheckFinalState() {
    const auto& steps = state_.steps;
    switch (state_.status) {
      case SagaStatus::kCompleted:
        for (const StepState& s : steps) EXPECT_EQ(s.status, StepStatus::kSucceeded);
        EXPECT_TRUE(state_.error.empty());
        break;
      case SagaStatus::kCompensated:
        for (const StepState& s : steps) EXPECT_TRUE(Settled(s)) << ToString(s.status);
        EXPECT_FALSE(state_.error.empty());
        break;
      case SagaStatus::kFailed:
        EXPECT_TRUE(std::ranges::any_of(
            steps, [](const StepState& s) { return s.status == StepStatus::kCompensationFailed; }));
        break;
      default:
        FAIL() << "not terminal";
    }
    for (const StepState& s : steps) {
      EXPECT_NE(s.status, StepStatus::kRunning);
      EXPECT_NE(s.status, StepStatus::kCompensating);
    }
  }

  std::mt19937 random_;
  SagaDefinition definition_;
  SagaState state_;
  TimePoint now_ = TimePoint(std::chrono::seconds(1'700'000'000));
  std::vector<CallParticipant> calls_;
  std::vector<std::pair<TimePoint, RetryDue>> timers_;
  std::vector<AttemptFinished> delivered_;
};

TEST(StateMachineSimulation, EveryRunEndsInAConsistentTerminalState) {
  std::map<SagaStatus, int> endings;
  for (unsigned seed = 0; seed < 2000; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ++endings[Simulation(seed).Run()];
    if (HasFailure()) return;
  }
  // The random mix must reach every ending, or the invariants above were never exercised.
  EXPECT_GT(endings[SagaStatus::kCompleted], 0);
  EXPECT_GT(endings[SagaStatus::kCompensated], 0);
  EXPECT_GT(endings[SagaStatus::kFailed], 0);
}

}  // namespace
}  // namespace skald::core
