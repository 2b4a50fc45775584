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
#include "coordinator/engine/delivery_fault_options.h"

namespace skald::engine {

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
