#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/engine/saga_outcomes.h"
#include "coordinator/store/saga_store.h"

namespace skald::api {

// Clients waiting for sagas to end (AwaitSaga), without a thread each: 3,000 waiting calls
// once made 3,000 threads. A waiter is a registration woken by the engine's SagaOutcomes
// (a saga this coordinator drives ends) or by a timer (its timeout, or a periodic re-read
// of the stored state for sagas driven by another coordinator). The database reads run on
// a few worker threads of this object, never on gRPC's reactor threads. At most
// `max_waiting` waiters at once. Thread-safe.
class SagaWaiters {
 public:
  struct Options {
    size_t max_waiting = 10'000;
    int workers = 2;
    std::chrono::milliseconds recheck{1'000};
  };
  using Load = std::function<absl::StatusOr<store::SagaOutcome>()>;
  using Done = std::function<void(const absl::StatusOr<store::SagaOutcome>&)>;

  // `outcomes` must outlive this object.
  SagaWaiters(engine::SagaOutcomes& outcomes, Options options);
  SagaWaiters(engine::SagaOutcomes& outcomes) : SagaWaiters(outcomes, Options{}) {}
  ~SagaWaiters();

  SagaWaiters(const SagaWaiters&) = delete;
  SagaWaiters& operator=(const SagaWaiters&) = delete;

  // Runs `work` on a worker thread (it may block on the database); false, without running
  // it, once stopped.
  bool Post(std::function<void()> work);

  // Calls `done` exactly once: with the saga's outcome once it is terminal, with its stored
  // state when `timeout` passes first, with `load`'s error, with CANCELLED when
  // `cancelled()` turns true (checked at each re-read), or with UNAVAILABLE when stopped.
  // `done` runs on a worker or on the engine's publishing thread: it must not block.
  // Returns RESOURCE_EXHAUSTED, without calling `done`, when max_waiting wait already.
  // Call it from a worker (it reads the store once before waiting).
  absl::Status Wait(const std::string& saga_id, std::chrono::milliseconds timeout, Load load,
                    std::function<bool()> cancelled, Done done);

  // Finishes every waiter with UNAVAILABLE, runs the work already posted, and stops the
  // threads. Later calls to Post are refused; idempotent.
  void Stop();

  // Waiters now.
  size_t waiting() const;

 private:
  struct Waiter;
  using Clock = std::chrono::steady_clock;

  // Calls the waiter's `done` with `result` unless it was finished already.
  void Finish(const std::shared_ptr<Waiter>& waiter,
              const absl::StatusOr<store::SagaOutcome>& result);
  // Re-reads the waiter's saga (on a worker) and finishes it or schedules the next re-read.
  void Check(const std::shared_ptr<Waiter>& waiter);
  void Schedule(const std::shared_ptr<Waiter>& waiter, Clock::time_point at);
  void WorkerLoop();
  void TimerLoop();

  engine::SagaOutcomes& outcomes_;
  const Options options_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable timers_changed_;
  std::deque<std::function<void()>> work_;
  std::multimap<Clock::time_point, std::shared_ptr<Waiter>> timers_;
  std::set<std::shared_ptr<Waiter>> live_;
  // The last re-read of each saga, shared by its waiters for a moment: many waiting for a
  // few sagas cost a read per saga, not per waiter.
  std::map<std::string, std::pair<Clock::time_point, absl::StatusOr<store::SagaOutcome>>> recent_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread timer_;
};

}  // namespace skald::api
