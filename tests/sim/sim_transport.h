#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "coordinator/engine/call_transport.h"
#include "tests/sim/participants.h"
#include "tests/sim/scheduler.h"

namespace skald::sim {

// What the simulated network does to calls and replies; each a chance per message.
struct NetworkFaults {
  double request_lost = 0.0;
  double reply_lost = 0.0;
  double duplicated = 0.0;
  // The reply arrives garbled (not JSON, an unknown outcome, an oversized error code).
  double malformed = 0.0;
  // The message takes between one and three attempt timeouts to arrive.
  double delayed_past_deadline = 0.0;
  // TEST ONLY, for the mutation check: a reply whose call this transport then never
  // reports (breaking CallTransport's "done runs exactly once").
  double reply_never_reported_for_mutation_test = 0.0;
};

// One coordinator's participant transport in the simulation: every call travels through
// the scheduler with a random delay to the ParticipantWorld and back, and may be lost,
// duplicated, delayed past its deadline or garbled on the way. Replies go through
// core::ClassifyParticipantReply exactly as the gRPC client's do; a call not answered by
// its timeout is reported DEADLINE_EXCEEDED then, and a later reply is dropped. Destroying
// the transport abandons whatever is still on the wire.
class SimulatedTransport : public engine::CallTransport {
 public:
  // `count_fault` is told the name of every fault injected ("network:request_lost", ...).
  SimulatedTransport(std::string coordinator, Scheduler& scheduler, ParticipantWorld& world,
                     uint64_t seed, const NetworkFaults& faults,
                     std::function<void(const std::string&)> count_fault);
  ~SimulatedTransport() override;

  void Call(const std::string& address, const v1::StepCall& call, std::chrono::milliseconds timeout,
            std::function<void(engine::CallResult)> done) override;
  void CancelAndDrain() override;
  size_t in_flight() const override { return calls_->pending.size(); }

 private:
  struct Calls {
    std::map<uint64_t, std::function<void(engine::CallResult)>> pending;
  };
  SimDuration Delay(std::chrono::milliseconds timeout);
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(random_) < p; }
  // Reports `result` for call `id` if it is still waiting; returns false for a late reply.
  static bool Report(Calls& calls, uint64_t id, engine::CallResult result);
  void Deliver(uint64_t id, std::string address, v1::StepCall call,
               std::chrono::milliseconds timeout, std::string label);

  const std::string coordinator_;
  Scheduler& scheduler_;
  ParticipantWorld& world_;
  std::mt19937_64 random_;
  const NetworkFaults& faults_;
  const std::function<void(const std::string&)> count_fault_;
  uint64_t next_id_ = 1;
  // Shared with the scheduled deliveries and replies, which find it gone once the transport
  // is destroyed (the coordinator crashed).
  std::shared_ptr<Calls> calls_ = std::make_shared<Calls>();
};

}  // namespace skald::sim
