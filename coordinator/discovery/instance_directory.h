#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/core/participant_instance.h"
#include "coordinator/store/registry_store.h"

namespace skald::discovery {

// How calls to one instance have gone lately, as this coordinator saw them.
struct InstanceHealth {
  // False until this coordinator has called the instance.
  bool called = false;
  int consecutive_failures = 0;
  std::optional<core::TimePoint> ejected_until;
  std::string last_error;
};

struct InstanceView {
  core::ParticipantInstance instance;
  InstanceHealth health;
};

// The instance a call goes to.
struct ChosenInstance {
  std::string instance_id;
  std::string address;
};

// This coordinator's view of the registered participant instances: the live registrations
// (reloaded from the database every refresh interval, so registrations made through any
// coordinator are seen) and the health of each instance (kept in memory: every coordinator
// judges by its own calls). Thread-safe.
class InstanceDirectory {
 public:
  explicit InstanceDirectory(
      store::RegistryStore& store,
      std::function<core::TimePoint()> now = [] { return core::Clock::now(); });
  ~InstanceDirectory();
  InstanceDirectory(const InstanceDirectory&) = delete;
  InstanceDirectory& operator=(const InstanceDirectory&) = delete;

  // Loads the registrations, then reloads them every `interval` on a thread of its own
  // until Stop(). A failed reload keeps the previous view (a database outage must not
  // leave the engine without participants) and is retried at the next interval.
  absl::Status Start(std::chrono::milliseconds interval);
  void Stop();

  // Reloads the registrations now.
  absl::Status Refresh();

  // The two halves of Refresh, public so a test can register in between: a reload reads
  // the database before it replaces this view, and a registration or deregistration made
  // here meanwhile is newer than what it read, so it is kept.
  struct RefreshStart {
    uint64_t changes_seen;
  };
  RefreshStart BeginRefresh() const;
  void FinishRefresh(RefreshStart start, std::vector<core::ParticipantInstance> live);

  // Stores a registration (or its renewal), then updates this view at once.
  absl::Status Register(const core::ParticipantInstance& instance, std::chrono::milliseconds ttl);
  absl::StatusOr<bool> Deregister(const std::string& service, const std::string& instance_id);

  // Picks the instance of `service` to send a `phase` call of `handler` to, skipping the
  // instances in `tried` (see core::ChooseInstance). Nullopt when none is eligible.
  std::optional<ChosenInstance> Choose(const std::string& service, core::Phase phase,
                                       const std::string& handler,
                                       const std::set<std::string>& tried);

  // Records how a call to an instance went: a failure (unreachable, or no answer in time)
  // ejects it for a while, longer after each failure in a row; an answer of any kind makes
  // it healthy again.
  void ReportAnswered(const std::string& service, const std::string& instance_id);
  void ReportFailed(const std::string& service, const std::string& instance_id,
                    const std::string& error);

  // Returns the live instances (all, or one service's) with their health.
  std::vector<InstanceView> Snapshot(const std::string& service = "") const;

  // Returns a one-line description of why `service` has no instance for `handler`, for
  // the attempt's error.
  std::string WhyNoInstance(const std::string& service, core::Phase phase,
                            const std::string& handler) const;

 private:
  using Key = std::pair<std::string, std::string>;  // (service, instance_id)
  void RefreshLoop(std::chrono::milliseconds interval);

  store::RegistryStore& store_;
  const std::function<core::TimePoint()> now_;

  mutable std::mutex mutex_;
  std::map<Key, core::ParticipantInstance> instances_;
  std::map<Key, InstanceHealth> health_;
  // Registrations and deregistrations made here, numbered, by the number of the last
  // change to each key: a reload that began before a change must not undo it.
  uint64_t changes_ = 0;
  std::map<Key, uint64_t> changed_at_;
  // Per service: a counter shared by all services would hand each service a stride of
  // the turns, and with two services called alternately one of them would always get the
  // same instance.
  std::map<std::string, uint64_t> turns_;

  bool stopping_ = false;
  std::condition_variable stop_;
  std::thread refresher_;
};

}  // namespace skald::discovery
