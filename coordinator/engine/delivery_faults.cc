#include "coordinator/engine/delivery_faults.h"

#include <spdlog/spdlog.h>

#include "coordinator/core/duration.h"

namespace skald::engine {

absl::Status ParseLateAction(const std::string& text, DeliveryFaults* faults) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError("expected STEP:DURATION, e.g. charge-payment:2s, got \"" +
                                      text + "\"");
  }
  absl::StatusOr<std::chrono::milliseconds> delay = core::ParseDuration(text.substr(colon + 1));
  if (!delay.ok()) return delay.status();
  faults->late_action_step = text.substr(0, colon);
  faults->late_by = *delay;
  return absl::OkStatus();
}

FaultInjectingTransport::FaultInjectingTransport(CallTransport& inner, DeliveryFaults faults)
    : inner_(inner), faults_(std::move(faults)), thread_([this] { RunTasks(); }) {
  spdlog::warn("TEST FAULTS ACTIVE: duplicate calls: {}; late actions of step \"{}\" by {} ms",
               faults_.duplicate_calls, faults_.late_action_step, faults_.late_by.count());
}

FaultInjectingTransport::~FaultInjectingTransport() {
  CancelAndDrain();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void FaultInjectingTransport::Call(const std::string& address, const v1::StepCall& call,
                                   std::chrono::milliseconds timeout,
                                   std::function<void(CallResult)> done) {
  const bool late = call.phase() != v1::PHASE_COMPENSATION && !faults_.late_action_step.empty() &&
                    call.step() == faults_.late_action_step;
  if (!late) {
    Deliver(address, call, timeout, std::move(done));
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    ++pending_reports_;
  }
  At(now + timeout,
     {[this, done = std::move(done), call] {
        {
          std::lock_guard lock(mutex_);
          --pending_reports_;
        }
        done(CallResult{core::AttemptOutcome::kRetryableError, nullptr,
                        "deadline exceeded (test fault: action of " + call.step() + " held back)",
                        "", false, true});
      },
      true});
  At(now + faults_.late_by,
     {[this, address, call, timeout] { Deliver(address, call, timeout, [](CallResult) {}); },
      false});
}

void FaultInjectingTransport::Deliver(const std::string& address, const v1::StepCall& call,
                                      std::chrono::milliseconds timeout,
                                      std::function<void(CallResult)> done) {
  if (call.phase() != v1::PHASE_COMPENSATION && !faults_.unstorable_output_step.empty() &&
      call.step() == faults_.unstorable_output_step) {
    done = [done = std::move(done)](CallResult result) {
      if (result.outcome == core::AttemptOutcome::kSuccess) {
        result.output = {{"unstorable", std::string("nul\0here", 8)}};
      }
      done(std::move(result));
    };
  }
  if (call.phase() != v1::PHASE_COMPENSATION && !faults_.lost_reply_step.empty() &&
      call.step() == faults_.lost_reply_step) {
    std::lock_guard lock(mutex_);
    if (lost_replies_.insert(call.saga_id()).second) done = [](CallResult) {};
  }
  inner_.Call(address, call, timeout, std::move(done));
  if (faults_.duplicate_calls) inner_.Call(address, call, timeout, [](CallResult) {});
}

void FaultInjectingTransport::At(std::chrono::steady_clock::time_point at, Task task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.emplace(at, std::move(task));
  }
  changed_.notify_all();
}

void FaultInjectingTransport::RunTasks() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (tasks_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const auto next = tasks_.begin()->first;
    if (std::chrono::steady_clock::now() < next) {
      changed_.wait_until(lock, next);
      continue;
    }
    Task task = std::move(tasks_.begin()->second);
    tasks_.erase(tasks_.begin());
    lock.unlock();
    task.run();
    lock.lock();
  }
}

void FaultInjectingTransport::CancelAndDrain() {
  // Report the held-back attempts as cancelled now and forget the late deliveries: a
  // draining coordinator must not wait for simulated delays.
  std::multimap<std::chrono::steady_clock::time_point, Task> pending;
  {
    std::lock_guard lock(mutex_);
    pending.swap(tasks_);
  }
  for (auto& [at, task] : pending) {
    if (task.must_run) task.run();
  }
  inner_.CancelAndDrain();
}

size_t FaultInjectingTransport::in_flight() const {
  std::lock_guard lock(mutex_);
  return inner_.in_flight() + pending_reports_;
}

}  // namespace skald::engine
