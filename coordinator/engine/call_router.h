#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "coordinator/core/definition.h"
#include "coordinator/discovery/instance_directory.h"
#include "coordinator/engine/call_transport.h"

namespace skald::engine {

// Sends each attempt to where its step says: a fixed participant address, or an instance of
// a registered service. For a service it spreads attempts over the live instances, records
// how each call went (so that an unreachable instance is skipped for a while) and, when an
// instance cannot be reached, sends the same attempt on to another instance within the
// attempt's timeout: the idempotency key makes a second delivery safe.
class CallRouter {
 public:
  // `directory` may be null when no step names a service. `now` measures each service
  // attempt's remaining time (the simulator passes its own clock).
  CallRouter(
      CallTransport& transport, discovery::InstanceDirectory* directory,
      std::function<core::TimePoint()> now = [] { return core::Clock::now(); })
      : transport_(transport), directory_(directory), now_(std::move(now)) {}

  // Sends `call` for `step` with the step's attempt timeout. `done` runs exactly once, on
  // another thread; it must not block.
  void Send(const core::StepDefinition& step, const v1::StepCall& call,
            std::function<void(CallResult)> done);

  // Stops moving attempts to other instances, cancels the calls in flight and returns once
  // every `done` has run.
  void CancelAndDrain();

  // Returns how many calls have not yet reported their result.
  size_t in_flight() const { return transport_.in_flight(); }

 private:
  struct ServiceAttempt;
  void SendToInstance(std::shared_ptr<ServiceAttempt> attempt);

  CallTransport& transport_;
  discovery::InstanceDirectory* const directory_;
  const std::function<core::TimePoint()> now_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace skald::engine
