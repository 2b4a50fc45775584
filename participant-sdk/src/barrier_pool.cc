// NewConnectionPool: the ConnectionSource the SDK ships for Barrier().
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "skald/barrier.h"

namespace skald {
namespace {

constexpr std::chrono::seconds kMaxWait(30);

class ConnectionPool final : public ConnectionSource {
 public:
  ConnectionPool(std::string url, int max_connections)
      : url_(std::move(url)), max_connections_(max_connections) {}

  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire(
      std::chrono::system_clock::time_point deadline) override {
    const auto limit = std::min(deadline, std::chrono::system_clock::now() + kMaxWait);
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!returned_.wait_until(lock, limit,
                                [&] { return !idle_.empty() || open_ < max_connections_; })) {
        return absl::DeadlineExceededError("no database connection became free in time");
      }
      if (!idle_.empty()) {
        std::unique_ptr<pqxx::connection> connection = std::move(idle_.back());
        idle_.pop_back();
        return connection;
      }
      ++open_;  // Reserved; connect outside the lock.
    }
    try {
      return std::make_unique<pqxx::connection>(url_);
    } catch (const std::exception& e) {
      Release(nullptr, false);
      return absl::UnavailableError(std::string("connecting to the database: ") + e.what());
    }
  }

  void Release(std::unique_ptr<pqxx::connection> connection, bool reusable) override {
    std::unique_ptr<pqxx::connection> closing;  // Closed outside the lock.
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (connection != nullptr && reusable) {
        idle_.push_back(std::move(connection));
      } else {
        closing = std::move(connection);
        --open_;
      }
    }
    returned_.notify_one();
  }

 private:
  const std::string url_;
  const int max_connections_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // Guarded by mu_.
  int open_ = 0;  // Idle plus lent connections. Guarded by mu_.
};

}  // namespace

std::shared_ptr<ConnectionSource> NewConnectionPool(std::string url, int max_connections) {
  return std::make_shared<ConnectionPool>(std::move(url), max_connections);
}

}  // namespace skald
