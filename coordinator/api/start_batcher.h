#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/store/saga_store.h"

namespace skald::api {

// Group commit for StartSaga: sagas started concurrently are created together, in one
// transaction and one commit (store::SagaStore::CreateSagas), instead of one fsync'd commit
// each. A few committer threads each take what has queued, up to `max_batch` sagas, and
// create it; starts that arrive while a commit is in flight form the next batch. An idle
// committer takes the first start at once, so a lone start waits for nothing but its own
// commit. Each start's `done` runs after the commit of its batch, with its own result (a
// saga the database refuses never fails the others). Thread-safe.
class StartBatcher {
 public:
  struct Options {
    // Commits in flight at once, each on its own pooled connection.
    int committers = 2;
    // Sagas per commit at most.
    size_t max_batch = 64;
    // Starts waiting for a committer at most; beyond, Submit refuses.
    size_t max_queued = 10'000;
  };
  // Told the result of one start, on a committer thread, with the saga given back.
  using Done = std::function<void(store::SagaToCreate saga, absl::StatusOr<store::CreatedSaga>)>;

  // `store` must outlive this object; sagas are leased to `holder`.
  StartBatcher(store::SagaStore& store, store::LeaseHolder holder, Options options);
  ~StartBatcher();
  StartBatcher(const StartBatcher&) = delete;
  StartBatcher& operator=(const StartBatcher&) = delete;

  // Queues `saga` for the next batch; `done` runs once, after its commit. Without queuing
  // it (and without running `done`): RESOURCE_EXHAUSTED when max_queued starts wait already,
  // UNAVAILABLE once stopped.
  absl::Status Submit(store::SagaToCreate saga, Done done);

  // Commits every start already queued and answers it, then stops the committers; later
  // submits are refused. Idempotent.
  void Stop();

  // How many batches (commits) and sagas the committers have created so far.
  uint64_t batches() const { return batches_.load(); }
  uint64_t sagas() const { return sagas_.load(); }

 private:
  struct Pending {
    store::SagaToCreate saga;
    Done done;
  };
  void CommitterLoop();

  store::SagaStore& store_;
  const store::LeaseHolder holder_;
  const Options options_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> sagas_{0};
};

}  // namespace skald::api
