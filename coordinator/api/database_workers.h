#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace skald::api {

// A few threads of its own for the client API's calls that wait on the database, handed
// over by gRPC's callback (reactor) methods, which must not block: however many calls are
// in flight, the coordinator's threads stay bounded (gRPC's synchronous server made one
// thread per waiting call). At most `max_queued` calls wait for a thread. Thread-safe.
class DatabaseWorkers {
 public:
  struct Options {
    int threads = 4;
    size_t max_queued = 10'000;
  };
  explicit DatabaseWorkers(Options options);
  ~DatabaseWorkers();
  DatabaseWorkers(const DatabaseWorkers&) = delete;
  DatabaseWorkers& operator=(const DatabaseWorkers&) = delete;

  // Runs `work` on a worker. Without running it: RESOURCE_EXHAUSTED when max_queued calls
  // wait already, UNAVAILABLE once stopped.
  absl::Status Post(std::function<void()> work);

  // Runs the work already posted, then stops the threads; later posts are refused.
  // Idempotent.
  void Stop();

 private:
  void WorkerLoop();

  const Options options_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<std::function<void()>> work_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace skald::api
