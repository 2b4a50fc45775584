#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace skald::store {

// Where a coordinator hears that another one released sagas (store::SagaStore::ReleaseLeases
// announces them), so that it claims them at once instead of at its next claim interval.
class WorkChannel {
 public:
  virtual ~WorkChannel() = default;

  // Waits up to `timeout` for an announcement of released sagas, and returns OK when one came
  // or the time passed. UNAVAILABLE when the channel could not be listened to; the next call
  // tries afresh, and the caller should wait out `timeout` some other way meanwhile.
  virtual absl::Status AwaitWork(std::chrono::milliseconds timeout) = 0;
};

// Listens on PostgreSQL's `kWorkChannel` (LISTEN/NOTIFY) over a connection of its own, opened
// on first use. Not thread-safe: one thread waits on it.
std::unique_ptr<WorkChannel> MakePostgresWorkChannel(std::string database_uri);

}  // namespace skald::store
