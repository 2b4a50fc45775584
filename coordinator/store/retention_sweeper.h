#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "coordinator/store/retention_options.h"
#include "coordinator/store/saga_store.h"

namespace skald::store {

// Deletes old finished sagas on a thread of its own, in batches, for as long as it runs.
// Coordinators sharing a database sweep side by side (rows are taken with SKIP LOCKED).
class RetentionSweeper {
 public:
  RetentionSweeper(SagaStore& store, RetentionOptions options);
  ~RetentionSweeper();
  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

  // Starts the thread, unless options.retention is zero.
  void Start();
  // Stops the thread after the batch in progress.
  void Stop();

 private:
  void Sweep();

  SagaStore& store_;
  const RetentionOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace skald::store
