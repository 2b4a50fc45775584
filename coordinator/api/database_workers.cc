#include "coordinator/api/database_workers.h"

#include <algorithm>
#include <string>

namespace skald::api {

DatabaseWorkers::DatabaseWorkers(Options options) : options_(options) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

DatabaseWorkers::~DatabaseWorkers() { Stop(); }

absl::Status DatabaseWorkers::Post(std::function<void()> work) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return absl::UnavailableError("the coordinator is shutting down; call another one");
    }
    if (work_.size() >= options_.max_queued) {
      return absl::ResourceExhaustedError(
          "this coordinator has " + std::to_string(work_.size()) +
          " calls waiting for the database, its limit; retry with a backoff");
    }
    work_.push_back(std::move(work));
  }
  work_ready_.notify_one();
  return absl::OkStatus();
}

void DatabaseWorkers::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void DatabaseWorkers::WorkerLoop() {
  while (true) {
    std::function<void()> work;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return stopping_ || !work_.empty(); });
      // Work posted before the stop still runs: each item finishes a call that was accepted.
      if (work_.empty()) return;
      work = std::move(work_.front());
      work_.pop_front();
    }
    work();
  }
}

}  // namespace skald::api
