#include "coordinator/discovery/instance_directory.h"

#include <spdlog/spdlog.h>

#include "coordinator/core/instance_choice.h"

namespace skald::discovery {

InstanceDirectory::InstanceDirectory(store::RegistryStore& store,
                                     std::function<core::TimePoint()> now)
    : store_(store), now_(std::move(now)) {}

InstanceDirectory::~InstanceDirectory() { Stop(); }

absl::Status InstanceDirectory::Start(std::chrono::milliseconds interval) {
  if (absl::Status loaded = Refresh(); !loaded.ok()) return loaded;
  refresher_ = std::thread([this, interval] { RefreshLoop(interval); });
  return absl::OkStatus();
}

void InstanceDirectory::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

void InstanceDirectory::RefreshLoop(std::chrono::milliseconds interval) {
  std::unique_lock lock(mutex_);
  while (!stop_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    if (absl::Status status = Refresh(); !status.ok()) {
      spdlog::warn("cannot reload participant registrations (keeping the last ones): {}",
                   std::string(status.message()));
    }
    lock.lock();
  }
}

absl::Status InstanceDirectory::Refresh() {
  const RefreshStart start = BeginRefresh();
  absl::StatusOr<std::vector<core::ParticipantInstance>> live = store_.LiveInstances();
  if (!live.ok()) return live.status();
  FinishRefresh(start, *std::move(live));
  return absl::OkStatus();
}

InstanceDirectory::RefreshStart InstanceDirectory::BeginRefresh() const {
  std::lock_guard lock(mutex_);
  return {changes_};
}

void InstanceDirectory::FinishRefresh(RefreshStart start,
                                      std::vector<core::ParticipantInstance> live) {
  std::lock_guard lock(mutex_);
  // A change numbered after the start committed to the database after (or while) the
  // reload read it: this view already holds its outcome, the reload may not.
  std::map<Key, core::ParticipantInstance> newer;
  std::set<Key> newer_keys;
  for (const auto& [key, number] : changed_at_) {
    if (number <= start.changes_seen) continue;
    newer_keys.insert(key);
    if (auto it = instances_.find(key); it != instances_.end()) newer.emplace(key, it->second);
  }
  instances_.clear();
  for (core::ParticipantInstance& instance : live) {
    Key key{instance.service, instance.instance_id};
    if (newer_keys.count(key)) continue;
    instances_.emplace(std::move(key), std::move(instance));
  }
  instances_.merge(newer);
  // Changes the reload has seen need no remembering any more.
  std::erase_if(changed_at_, [&](const auto& entry) { return entry.second <= start.changes_seen; });
  // Health outlives a registration's renewals but not the registration itself.
  std::erase_if(health_, [this](const auto& entry) { return !instances_.count(entry.first); });
}

absl::Status InstanceDirectory::Register(const core::ParticipantInstance& instance,
                                         std::chrono::milliseconds ttl) {
  if (absl::Status stored = store_.Register(instance, ttl); !stored.ok()) return stored;
  std::lock_guard lock(mutex_);
  core::ParticipantInstance& entry = instances_[{instance.service, instance.instance_id}];
  const bool is_new = entry.instance_id.empty();
  const core::TimePoint now = now_();
  entry = instance;
  entry.registered_at = is_new ? now : entry.registered_at;
  entry.renewed_at = now;
  entry.expires_at = now + ttl;
  changed_at_[{instance.service, instance.instance_id}] = ++changes_;
  return absl::OkStatus();
}

absl::StatusOr<bool> InstanceDirectory::Deregister(const std::string& service,
                                                   const std::string& instance_id) {
  absl::StatusOr<bool> removed = store_.Deregister(service, instance_id);
  if (!removed.ok()) return removed;
  std::lock_guard lock(mutex_);
  instances_.erase({service, instance_id});
  health_.erase({service, instance_id});
  changed_at_[{service, instance_id}] = ++changes_;
  return removed;
}

std::optional<ChosenInstance> InstanceDirectory::Choose(const std::string& service,
                                                        core::Phase phase,
                                                        const std::string& handler,
                                                        const std::set<std::string>& tried) {
  std::lock_guard lock(mutex_);
  std::vector<core::InstanceCandidate> candidates;
  std::vector<const core::ParticipantInstance*> instances;
  for (auto it = instances_.lower_bound({service, ""});
       it != instances_.end() && it->first.first == service; ++it) {
    const auto health = health_.find(it->first);
    candidates.push_back({it->second.instance_id, it->second.Serves(phase, handler),
                          health == health_.end() ? std::nullopt : health->second.ejected_until});
    instances.push_back(&it->second);
  }
  const std::optional<size_t> chosen =
      core::ChooseInstance(candidates, tried, turns_[service]++, now_());
  if (!chosen) return std::nullopt;
  return ChosenInstance{instances[*chosen]->instance_id, instances[*chosen]->address};
}

void InstanceDirectory::ReportAnswered(const std::string& service, const std::string& instance_id) {
  std::lock_guard lock(mutex_);
  if (!instances_.count({service, instance_id})) return;
  InstanceHealth& health = health_[{service, instance_id}];
  health.called = true;
  health.consecutive_failures = 0;
  health.ejected_until.reset();
}

void InstanceDirectory::ReportFailed(const std::string& service, const std::string& instance_id,
                                     const std::string& error) {
  std::lock_guard lock(mutex_);
  if (!instances_.count({service, instance_id})) return;
  InstanceHealth& health = health_[{service, instance_id}];
  health.called = true;
  health.consecutive_failures += 1;
  health.ejected_until = now_() + core::EjectionFor(health.consecutive_failures);
  health.last_error = error;
}

std::vector<InstanceView> InstanceDirectory::Snapshot(const std::string& service) const {
  std::lock_guard lock(mutex_);
  std::vector<InstanceView> views;
  for (const auto& [key, instance] : instances_) {
    if (!service.empty() && key.first != service) continue;
    const auto health = health_.find(key);
    views.push_back({instance, health == health_.end() ? InstanceHealth{} : health->second});
  }
  return views;
}

std::string InstanceDirectory::WhyNoInstance(const std::string& service, core::Phase phase,
                                             const std::string& handler) const {
  std::lock_guard lock(mutex_);
  int live = 0;
  for (auto it = instances_.lower_bound({service, ""});
       it != instances_.end() && it->first.first == service; ++it) {
    ++live;
  }
  const std::string what = std::string(core::ToString(phase)) + " \"" + handler + "\"";
  if (live == 0) return "no live instance of service \"" + service + "\" is registered";
  return "none of the " + std::to_string(live) + " live instances of service \"" + service +
         "\" serves " + what;
}

}  // namespace skald::discovery
