#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "coordinator/store/connection.h"

namespace skald::store {

// Whether the database takes this coordinator's writes, for /readyz: a read alone says
// "ready" while the database is read-only or the coordinator's role has lost a privilege.
// Thread-safe.
class WriteProbe {
 public:
  // `node_id` names this coordinator's row in coordinator_heartbeats. The database is
  // written at most once per `min_interval`; calls in between get the last answer, so that
  // /readyz cannot be used to load the database.
  WriteProbe(ConnectionPool& pool, std::string node_id,
             std::chrono::steady_clock::duration min_interval = std::chrono::seconds(1),
             std::chrono::steady_clock::duration refusal_memory = std::chrono::seconds(5));

  // OK when the heartbeat row was written and no write was refused for a reason that
  // concerns the whole database (read-only, disk full, privileges) within the last
  // `refusal_memory`; otherwise UNAVAILABLE with a plain reason, e.g. "refuses writes: the
  // database is read-only". (A full disk lets an update that fits its page through, so
  // refusals met by other work count too.)
  absl::Status Check();

 private:
  ConnectionPool& pool_;
  const std::string node_id_;
  const std::chrono::steady_clock::duration min_interval_;
  const std::chrono::steady_clock::duration refusal_memory_;
  // Held across the write, so that concurrent calls wait for one probe instead of each
  // sending their own.
  std::mutex mutex_;
  std::optional<std::chrono::steady_clock::time_point> probed_at_;
  absl::Status last_;
};

}  // namespace skald::store
