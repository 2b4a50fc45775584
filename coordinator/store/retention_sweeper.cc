#include "coordinator/store/retention_sweeper.h"

#include <spdlog/spdlog.h>

namespace skald::store {

RetentionSweeper::RetentionSweeper(SagaStore& store, RetentionOptions options)
    : store_(store), options_(options) {}

RetentionSweeper::~RetentionSweeper() { Stop(); }

void RetentionSweeper::Start() {
  if (options_.retention.count() <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] { Sweep(); });
}

void RetentionSweeper::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetentionSweeper::Sweep() {
  long long deleted_since_report = 0;
  while (true) {
    auto deleted = store_.DeleteFinishedSagas(options_.retention, options_.batch);
    std::chrono::milliseconds wait = options_.idle_interval;
    if (!deleted.ok()) {
      spdlog::warn("retention: deleting finished sagas failed, will retry: {}",
                   std::string(deleted.status().message()));
    } else {
      deleted_since_report += *deleted;
      if (*deleted == options_.batch) {
        wait = options_.pause;
      } else if (deleted_since_report > 0) {
        spdlog::info("retention: deleted {} saga(s) finished more than {} s ago",
                     deleted_since_report, options_.retention.count() / 1000);
        deleted_since_report = 0;
      }
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
  }
}

}  // namespace skald::store
