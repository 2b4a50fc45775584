#include "coordinator/api/saga_waiters.h"

#include <atomic>
#include <optional>

#include "coordinator/core/saga_state.h"

namespace skald::api {

struct SagaWaiters::Waiter {
  std::string saga_id;
  Load load;
  std::function<bool()> cancelled;
  Done done;
  Clock::time_point deadline;
  uint64_t listener = 0;
  // Held while `cancelled` runs: `done` ends the call, after which the call's context (which
  // `cancelled` reads) is gone. `finished` is set under it.
  std::mutex guard;
  std::atomic<bool> finished{false};
};

SagaWaiters::SagaWaiters(engine::SagaOutcomes& outcomes, Options options)
    : outcomes_(outcomes), options_(options) {
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  timer_ = std::thread([this] { TimerLoop(); });
}

SagaWaiters::~SagaWaiters() { Stop(); }

bool SagaWaiters::Post(std::function<void()> work) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    work_.push_back(std::move(work));
  }
  work_ready_.notify_one();
  return true;
}

absl::Status SagaWaiters::Wait(const std::string& saga_id, std::chrono::milliseconds timeout,
                               Load load, std::function<bool()> cancelled, Done done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->saga_id = saga_id;
  waiter->load = std::move(load);
  waiter->cancelled = std::move(cancelled);
  waiter->done = std::move(done);
  waiter->deadline = Clock::now() + timeout;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return absl::UnavailableError("the coordinator is shutting down; wait on another one");
    }
    if (live_.size() >= options_.max_waiting) {
      return absl::ResourceExhaustedError(
          "this coordinator has " + std::to_string(live_.size()) +
          " AwaitSaga calls waiting, its limit; wait with a longer timeout, or poll GetSaga");
    }
    live_.insert(waiter);
  }
  // Listening before the first read: an end committed after the read is not missed.
  std::weak_ptr<Waiter> weak = waiter;
  bool driven_here = false;
  waiter->listener = outcomes_.Listen(
      saga_id,
      [this, weak](const store::SagaOutcome& outcome) {
        if (auto listening = weak.lock()) Finish(listening, outcome);
      },
      &driven_here);
  if (driven_here && timeout.count() > 0) {
    // This engine drives the saga and has not ended it: its end will be published to the
    // listener, and the re-reads find an end written elsewhere. No read now (one statement
    // per AwaitSaga less).
    Schedule(waiter, std::min(waiter->deadline, Clock::now() + options_.recheck));
    return absl::OkStatus();
  }
  absl::StatusOr<store::SagaOutcome> stored = waiter->load();
  if (!stored.ok() || core::IsTerminal(stored->status) || timeout.count() <= 0) {
    Finish(waiter, stored);
  } else {
    Schedule(waiter, std::min(waiter->deadline, Clock::now() + options_.recheck));
  }
  return absl::OkStatus();
}

void SagaWaiters::Finish(const std::shared_ptr<Waiter>& waiter,
                         const absl::StatusOr<store::SagaOutcome>& result) {
  {
    std::lock_guard lock(waiter->guard);
    if (waiter->finished.exchange(true)) return;
  }
  outcomes_.Unlisten(waiter->saga_id, waiter->listener);
  {
    std::lock_guard lock(mutex_);
    live_.erase(waiter);
  }
  waiter->done(result);
}

void SagaWaiters::Schedule(const std::shared_ptr<Waiter>& waiter, Clock::time_point at) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // Stop finishes it
    timers_.emplace(at, waiter);
  }
  timers_changed_.notify_one();
}

void SagaWaiters::Check(const std::shared_ptr<Waiter>& waiter) {
  bool cancelled = false;
  {
    std::lock_guard lock(waiter->guard);
    if (waiter->finished) return;
    cancelled = waiter->cancelled && waiter->cancelled();
  }
  if (cancelled) {
    Finish(waiter, absl::CancelledError("the client went away"));
    return;
  }
  // Re-reads within a fifth of the interval serve every waiter of the saga.
  const auto fresh = options_.recheck / 5;
  std::optional<absl::StatusOr<store::SagaOutcome>> shared;
  {
    std::lock_guard lock(mutex_);
    auto it = recent_.find(waiter->saga_id);
    if (it != recent_.end() && Clock::now() - it->second.first < fresh) shared = it->second.second;
  }
  absl::StatusOr<store::SagaOutcome> stored = shared ? *shared : waiter->load();
  const auto now = Clock::now();
  if (!shared) {
    std::lock_guard lock(mutex_);
    if (recent_.size() > 2 * options_.max_waiting) {
      std::erase_if(recent_, [&](const auto& entry) { return now - entry.second.first >= fresh; });
    }
    recent_.insert_or_assign(waiter->saga_id, std::make_pair(now, stored));
  }
  if (!stored.ok() || core::IsTerminal(stored->status) || now >= waiter->deadline) {
    Finish(waiter, stored);
  } else {
    Schedule(waiter, std::min(waiter->deadline, now + options_.recheck));
  }
}

void SagaWaiters::WorkerLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_ready_.wait(lock, [this] { return stopping_ || !work_.empty(); });
    if (work_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> work = std::move(work_.front());
    work_.pop_front();
    lock.unlock();
    work();
    lock.lock();
  }
}

void SagaWaiters::TimerLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      timers_changed_.wait(lock);
      continue;
    }
    const auto next = timers_.begin()->first;
    if (Clock::now() < next) {
      timers_changed_.wait_until(lock, next);
      continue;
    }
    std::vector<std::shared_ptr<Waiter>> due;
    while (!timers_.empty() && timers_.begin()->first <= Clock::now()) {
      due.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
    for (auto& waiter : due) {
      if (waiter->finished) continue;
      work_.push_back([this, waiter] { Check(waiter); });
    }
    work_ready_.notify_all();
  }
}

void SagaWaiters::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !timer_.joinable()) return;
    stopping_ = true;
    timers_.clear();
  }
  work_ready_.notify_all();
  timers_changed_.notify_all();
  if (timer_.joinable()) timer_.join();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  std::set<std::shared_ptr<Waiter>> left;
  {
    std::lock_guard lock(mutex_);
    left = live_;
  }
  for (const auto& waiter : left) {
    Finish(waiter, absl::UnavailableError("the coordinator is shutting down; wait again"));
  }
}

size_t SagaWaiters::waiting() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

}  // namespace skald::api
