#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "coordinator/core/saga_state.h"
#include "coordinator/core/state_machine.h"
#include "grpcpp/grpcpp.h"
#include "skald/v1/participant.grpc.pb.h"

namespace skald::engine {

// What one participant call came to, in the state machine's terms.
struct CallResult {
  core::AttemptOutcome outcome = core::AttemptOutcome::kSuccess;
  nlohmann::json output;
  std::string error;
  // The participant's own error code, when it answered with one.
  std::string error_code;
};

// Returns how the state machine must treat a participant's answer: transport failures a
// retry may cure (UNAVAILABLE, DEADLINE_EXCEEDED, ...) are retryable; answers that will not
// change (UNIMPLEMENTED for an unknown handler, ...) are failures; a success whose output is
// not a JSON object is retryable, since the participant may have applied the effect.
CallResult ClassifyReply(const std::string& address, const grpc::Status& status,
                         const v1::StepReply& reply);

// Calls participants over gRPC without blocking: each call returns at once and reports its
// result on one of gRPC's threads. One channel per participant address, reused.
class ParticipantClient {
 public:
  ParticipantClient() = default;
  ~ParticipantClient();

  // Sends `call` to the participant at `address` with the given deadline, as an action or
  // compensation by `call.phase()`. `done` runs exactly once, on a gRPC thread; it must not
  // block.
  void Call(const std::string& address, const v1::StepCall& call, std::chrono::milliseconds timeout,
            std::function<void(CallResult)> done);

  // Cancels the calls in flight and returns once every `done` has run.
  void CancelAndDrain();

  // Returns how many calls have not yet reported their result.
  size_t in_flight() const;

 private:
  struct PendingCall;
  v1::Participant::Stub& StubFor(const std::string& address);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<v1::Participant::Stub>> stubs_;
  std::set<PendingCall*> in_flight_;
  std::condition_variable drained_;
};

}  // namespace skald::engine
