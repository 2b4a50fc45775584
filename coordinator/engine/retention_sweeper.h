#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "coordinator/store/saga_store.h"

namespace skald::engine {

struct RetentionOptions {
  // Finished (COMPLETED, COMPENSATED) sagas older than this are deleted; zero keeps them.
  std::chrono::milliseconds retention{0};
  // Sagas per delete transaction: small enough that no batch holds locks or the WAL for
  // long.
  int batch = 500;
  // The pause after a full batch, so that a backlog of millions never crowds out sagas in
  // flight; and the wait between sweeps once nothing is old enough.
  std::chrono::milliseconds pause{20};
  std::chrono::milliseconds idle_interval{60'000};
};

// Deletes old finished sagas on a thread of its own, in batches, for as long as it runs.
// Coordinators sharing a database sweep side by side (rows are taken with SKIP LOCKED).
class RetentionSweeper {
 public:
  RetentionSweeper(store::SagaStore& store, RetentionOptions options);
  ~RetentionSweeper();
  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

  // Starts the thread, unless options.retention is zero.
  void Start();
  // Stops the thread after the batch in progress.
  void Stop();

 private:
  void Sweep();

  store::SagaStore& store_;
  const RetentionOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace skald::engine
