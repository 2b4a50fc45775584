#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "coordinator/core/participant_reply.h"
#include "coordinator/core/state_machine.h"
#include "nlohmann/json.hpp"
#include "skald/v1/participant.pb.h"

namespace skald::engine {

// What one participant call came to (see core::ClassifyParticipantReply).
using CallResult = core::CallResult;

// Delivers step calls to a participant address without blocking. Implemented by the gRPC
// client, and by the test-only fault injector that wraps it.
class CallTransport {
 public:
  virtual ~CallTransport() = default;

  // Sends `call` to the participant at `address` with the given timeout, as an action or a
  // compensation by `call.phase()`. `done` runs exactly once, on another thread; it must not
  // block.
  virtual void Call(const std::string& address, const v1::StepCall& call,
                    std::chrono::milliseconds timeout, std::function<void(CallResult)> done) = 0;

  // Cancels the calls in flight and returns once every `done` has run.
  virtual void CancelAndDrain() = 0;

  // Returns how many calls have not yet reported their result.
  virtual size_t in_flight() const = 0;
};

}  // namespace skald::engine
