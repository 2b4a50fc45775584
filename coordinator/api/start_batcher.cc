#include "coordinator/api/start_batcher.h"

#include <algorithm>
#include <string>
#include <utility>

namespace skald::api {

StartBatcher::StartBatcher(store::SagaStore& store, store::LeaseHolder holder, Options options)
    : store_(store), holder_(std::move(holder)), options_(options) {
  for (int i = 0; i < std::max(1, options_.committers); ++i) {
    threads_.emplace_back([this] { CommitterLoop(); });
  }
}

StartBatcher::~StartBatcher() { Stop(); }

absl::Status StartBatcher::Submit(store::SagaToCreate saga, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return absl::UnavailableError("the coordinator is shutting down; start on another one");
    }
    if (queue_.size() >= options_.max_queued) {
      return absl::ResourceExhaustedError(
          "this coordinator has " + std::to_string(queue_.size()) +
          " starts waiting for the database, its limit; retry with a backoff");
    }
    queue_.push_back({std::move(saga), std::move(done)});
  }
  work_ready_.notify_one();
  return absl::OkStatus();
}

void StartBatcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void StartBatcher::CommitterLoop() {
  const size_t max_batch = std::max<size_t>(1, options_.max_batch);
  while (true) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Starts queued before the stop are still committed: each was accepted.
      if (queue_.empty()) return;
      const size_t take = std::min(max_batch, queue_.size());
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<store::SagaToCreate> sagas;
    sagas.reserve(batch.size());
    for (Pending& pending : batch) sagas.push_back(std::move(pending.saga));
    std::vector<absl::StatusOr<store::CreatedSaga>> results = store_.CreateSagas(sagas, holder_);
    batches_.fetch_add(1);
    sagas_.fetch_add(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(std::move(sagas[i]),
                    i < results.size()
                        ? std::move(results[i])
                        : absl::InternalError("the store answered fewer starts than it was given"));
    }
  }
}

}  // namespace skald::api
