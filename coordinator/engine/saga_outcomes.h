#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/store/saga_store.h"

namespace skald::engine {

// Where clients wait for sagas to end. The engine publishes each saga it drives to a
// terminal state right after the commit; a waiter is woken by that, and otherwise (the saga
// is driven by another coordinator, or ended before the wait began) learns the outcome from
// the store, which it reads when it starts waiting and then every `recheck_interval`.
// Publishing costs a hash lookup when nobody waits for the saga. Thread-safe.
class SagaOutcomes {
 public:
  using Load = std::function<absl::StatusOr<store::SagaOutcome>()>;

  explicit SagaOutcomes(std::chrono::milliseconds recheck_interval = std::chrono::seconds(1),
                        std::chrono::milliseconds driven_hint_ttl = std::chrono::seconds(30))
      : recheck_interval_(recheck_interval), driven_hint_ttl_(driven_hint_ttl) {}

  // Tells the waiters of `saga_id`, if any, that it ended with `outcome`.
  void Publish(const std::string& saga_id, const store::SagaOutcome& outcome);

  // Returns the saga's outcome once it is terminal, or its stored state when `timeout`
  // passes first. `load` reads the stored state; its errors (NOT_FOUND, UNAVAILABLE) are
  // returned as they are.
  absl::StatusOr<store::SagaOutcome> Await(const std::string& saga_id,
                                           std::chrono::milliseconds timeout, const Load& load);

  // Notes that this coordinator's engine drives `saga_id` (created here): until Publish, a
  // listener is sure to hear of its end if it ends here. A note is a hint kept for
  // `driven_hint_ttl`; at most kMaxDrivenHints are kept (when that many are live, they are
  // all forgotten).
  void MarkDriven(const std::string& saga_id);

  // Calls `listener` once, on the publishing thread, when `saga_id` is published, unless
  // Unlisten comes first: how waiters that hold no thread (api::SagaWaiters) are woken. The
  // listener must not block. Listen before reading the stored state, so that an end
  // committed after that read is published to the listener rather than missed. `driven`,
  // if given, is set to whether the saga was marked driven and not published yet: its end,
  // if this engine writes it, will reach the listener, so the first read may be skipped
  // (an end written elsewhere, after a lost lease, is for the re-reads to find).
  using Listener = std::function<void(const store::SagaOutcome&)>;
  uint64_t Listen(const std::string& saga_id, Listener listener, bool* driven = nullptr);

  static constexpr size_t kMaxDrivenHints = 100'000;
  // Forgets a listener not called yet; nothing when it was called already.
  void Unlisten(const std::string& saga_id, uint64_t handle);

  // Returns how many sagas have a waiter right now.
  size_t waiting() const;

 private:
  // The waiters of one saga share a slot; the last to leave removes it.
  struct Slot {
    std::condition_variable published;
    std::optional<store::SagaOutcome> outcome;
    int waiters = 0;
    std::unordered_map<uint64_t, Listener> listeners;
  };

  // Removes the slot of `saga_id` once nobody waits or listens there. REQUIRES: mutex_.
  void EraseIfUnused(const std::string& saga_id);

  const std::chrono::milliseconds recheck_interval_;
  const std::chrono::milliseconds driven_hint_ttl_;
  mutable std::mutex mutex_;
  // MarkDriven's notes: saga id -> when noted.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> driven_;
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots_;
  uint64_t next_listener_ = 1;
};

}  // namespace skald::engine
