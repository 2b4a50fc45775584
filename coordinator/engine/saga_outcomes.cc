#include "coordinator/engine/saga_outcomes.h"

namespace skald::engine {

void SagaOutcomes::MarkDriven(const std::string& saga_id) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (driven_.size() >= kMaxDrivenHints) {
    // Notes of sagas that ended elsewhere or were let go are never published here.
    std::erase_if(driven_, [&](const auto& note) { return now - note.second >= driven_hint_ttl_; });
    // Still full of live notes: forget them all rather than sweep again at every start
    // (their waiters read first, as without a note), so a sweep costs once per
    // kMaxDrivenHints starts.
    if (driven_.size() >= kMaxDrivenHints) driven_.clear();
  }
  driven_.insert_or_assign(saga_id, now);
}

void SagaOutcomes::Publish(const std::string& saga_id, const store::SagaOutcome& outcome) {
  std::vector<Listener> listeners;
  {
    std::lock_guard lock(mutex_);
    driven_.erase(saga_id);
    auto it = slots_.find(saga_id);
    if (it == slots_.end()) return;
    it->second->outcome = outcome;
    it->second->published.notify_all();
    for (auto& [handle, listener] : it->second->listeners) listeners.push_back(std::move(listener));
    it->second->listeners.clear();
    EraseIfUnused(saga_id);
  }
  // Outside the lock: a listener may Unlisten or Listen again.
  for (const Listener& listener : listeners) listener(outcome);
}

uint64_t SagaOutcomes::Listen(const std::string& saga_id, Listener listener, bool* driven) {
  std::lock_guard lock(mutex_);
  if (driven) {
    auto note = driven_.find(saga_id);
    *driven =
        note != driven_.end() && std::chrono::steady_clock::now() - note->second < driven_hint_ttl_;
  }
  auto& entry = slots_[saga_id];
  if (!entry) entry = std::make_shared<Slot>();
  const uint64_t handle = next_listener_++;
  entry->listeners.emplace(handle, std::move(listener));
  return handle;
}

void SagaOutcomes::Unlisten(const std::string& saga_id, uint64_t handle) {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(saga_id);
  if (it == slots_.end()) return;
  it->second->listeners.erase(handle);
  EraseIfUnused(saga_id);
}

void SagaOutcomes::EraseIfUnused(const std::string& saga_id) {
  auto it = slots_.find(saga_id);
  if (it != slots_.end() && it->second->waiters == 0 && it->second->listeners.empty()) {
    slots_.erase(it);
  }
}

absl::StatusOr<store::SagaOutcome> SagaOutcomes::Await(const std::string& saga_id,
                                                       std::chrono::milliseconds timeout,
                                                       const Load& load) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  std::shared_ptr<Slot> slot;
  {
    // Registered before the first read, so that an end committed after that read is
    // published to this slot rather than missed.
    std::lock_guard lock(mutex_);
    auto& entry = slots_[saga_id];
    if (!entry) entry = std::make_shared<Slot>();
    slot = entry;
    ++slot->waiters;
  }
  auto leave = [&] {
    std::lock_guard lock(mutex_);
    --slot->waiters;
    EraseIfUnused(saga_id);
  };
  absl::StatusOr<store::SagaOutcome> stored = load();
  while (stored.ok() && !core::IsTerminal(stored->status)) {
    std::unique_lock lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now >= give_up) break;
    const auto recheck = std::min(give_up, now + recheck_interval_);
    if (slot->published.wait_until(lock, recheck, [&] { return slot->outcome.has_value(); })) {
      store::SagaOutcome outcome = *slot->outcome;
      lock.unlock();
      leave();
      return outcome;
    }
    lock.unlock();
    stored = load();
  }
  leave();
  return stored;
}

size_t SagaOutcomes::waiting() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

}  // namespace skald::engine
