#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "coordinator/engine/call_transport.h"

namespace skald::engine {

// TEST ONLY. Network misbehaviour the coordinator can be told to simulate, so that
// end-to-end tests prove participants stay correct when calls are duplicated and reordered.
struct DeliveryFaults {
  // Every call is sent twice at once; the second copy's answer is ignored.
  bool duplicate_calls = false;
  // Actions of this step reach the participant `late_by` after they were sent, while the
  // coordinator sees the attempt time out: its compensation then overtakes the action.
  std::string late_action_step;
  std::chrono::milliseconds late_by{0};
  // Successful actions of this step report an output PostgreSQL refuses (a \u0000 in a
  // string), past the reply checks: the engine must not lose the saga over it.
  std::string unstorable_output_step;
  // The first call of this step's action in each saga is sent, but its outcome (even a
  // timeout) is never reported: a transport defect the engine's self-check must repair.
  std::string lost_reply_step;

  bool any() const {
    return duplicate_calls || !late_action_step.empty() || !unstorable_output_step.empty() ||
           !lost_reply_step.empty();
  }
};

// Reads "STEP:DURATION", e.g. "charge-payment:2s", into faults->late_action_step/late_by.
absl::Status ParseLateAction(const std::string& text, DeliveryFaults* faults);

// A CallTransport that delivers through `inner` with the faults above. Delayed deliveries
// still pending when it is destroyed or drained are dropped.
class FaultInjectingTransport : public CallTransport {
 public:
  FaultInjectingTransport(CallTransport& inner, DeliveryFaults faults);
  ~FaultInjectingTransport() override;

  void Call(const std::string& address, const v1::StepCall& call, std::chrono::milliseconds timeout,
            std::function<void(CallResult)> done) override;
  void CancelAndDrain() override;
  size_t in_flight() const override;

 private:
  struct Task {
    std::function<void()> run;
    // A timeout report must run even when draining; a late delivery is dropped then.
    bool must_run = false;
  };
  // Runs `task` at `at` on the injector's own thread.
  void At(std::chrono::steady_clock::time_point at, Task task);
  void RunTasks();
  void Deliver(const std::string& address, const v1::StepCall& call,
               std::chrono::milliseconds timeout, std::function<void(CallResult)> done);

  CallTransport& inner_;
  const DeliveryFaults faults_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::multimap<std::chrono::steady_clock::time_point, Task> tasks_;
  // Timeouts reported for late actions that have not been reported yet.
  size_t pending_reports_ = 0;
  bool stopping_ = false;
  // Sagas whose first reply of faults_.lost_reply_step was lost already.
  std::set<std::string> lost_replies_;
  std::thread thread_;
};

}  // namespace skald::engine
