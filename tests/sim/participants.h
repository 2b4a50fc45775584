#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "coordinator/core/definition.h"
#include "coordinator/core/participant_reply.h"
#include "skald/v1/participant.pb.h"
#include "tests/sim/scheduler.h"

namespace skald::sim {

// How the participants of one step behave, drawn per call from the simulation's seed.
struct StepBehaviour {
  // Chance that an action's first decisive answer is a business failure.
  double business_failure = 0.0;
  // Chance that one attempt (action or compensation) answers with a retryable error and
  // no effect.
  double transient_error = 0.0;
};

// A participant's answer as it leaves the participant, before the network.
struct WireReply {
  absl::StatusCode status_code = absl::StatusCode::kOk;
  std::string status_message;
  int outcome = core::kWireOutcomeSuccess;
  std::string output_json;
  std::string error_code;
  std::string error_message;
};

// One effect a participant applied: an action's or a compensation's, in the order applied.
struct AppliedEffect {
  uint64_t sequence = 0;
  std::string saga_id;
  std::string step;
  core::Phase phase = core::Phase::kAction;
};

// Every participant of the simulated world, each behind the barrier the SDK gives
// (participant-sdk/src/barrier.cc): per (saga, step, phase) the first decisive answer is
// recorded and replayed to every later delivery of the same idempotency key; a
// compensation that arrives before its action is a null compensation, and the action is
// then refused. Effects are applied (and logged) only by a first decisive success, so the
// invariant checker can see whether any effect was applied twice or out of order.
class ParticipantWorld {
 public:
  ParticipantWorld(Scheduler& scheduler, uint64_t seed) : scheduler_(scheduler), random_(seed) {}

  // Declares the steps of `definition` and how each behaves; addresses are the steps'
  // fixed participant addresses.
  void AddDefinition(const core::SagaDefinition& definition,
                     const std::map<std::string, StepBehaviour>& behaviour);

  // Delivers `call` to the participant at `address` and returns its answer.
  WireReply Deliver(const std::string& address, const v1::StepCall& call);

  // The instance at `address` is down until `until` (calls to it are refused, UNAVAILABLE).
  void KillUntil(const std::string& address, SimDuration until) { down_until_[address] = until; }

  // Faults in the participants' answers stop (transient errors and business failures go on:
  // they are behaviour, not faults).
  void StopFaults() { down_until_.clear(); }

  const std::vector<AppliedEffect>& effects() const { return effects_; }
  // Calls that no participant should ever receive (a compensation of a step that has none,
  // or of the pivot or a step after it), described for people.
  const std::vector<std::string>& forbidden_calls() const { return forbidden_calls_; }
  // Deliveries received; decisive answers replayed; compensations that found no effect to
  // undo; actions refused because their compensation came first.
  uint64_t deliveries() const { return deliveries_; }
  uint64_t replays() const { return replays_; }
  uint64_t null_compensations() const { return null_compensations_; }
  uint64_t refused_actions() const { return refused_actions_; }

 private:
  struct Recorded {
    WireReply reply;
  };
  using Key = std::tuple<std::string, std::string, core::Phase>;  // saga, step, phase

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(random_) < p; }

  Scheduler& scheduler_;
  std::mt19937_64 random_;
  // (definition name, step name) -> step, behaviour.
  std::map<std::string, std::pair<core::StepDefinition, StepBehaviour>> steps_by_handler_;
  std::map<std::string, SimDuration> down_until_;
  std::map<Key, Recorded> barrier_;
  std::vector<AppliedEffect> effects_;
  std::vector<std::string> forbidden_calls_;
  uint64_t deliveries_ = 0;
  uint64_t replays_ = 0;
  uint64_t null_compensations_ = 0;
  uint64_t refused_actions_ = 0;
};

}  // namespace skald::sim
