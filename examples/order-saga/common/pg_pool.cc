#include "common/pg_pool.h"

#include <algorithm>
#include <utility>

namespace skald::examples {

PgPool::Lease::Lease(PgPool* pool, std::unique_ptr<pqxx::connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

PgPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}

PgPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->GiveBack(std::move(connection_));
}

PgPool::PgPool(std::string url, int max_connections)
    : url_(std::move(url)), max_connections_(std::max(1, max_connections)) {}

absl::StatusOr<PgPool::Lease> PgPool::Acquire(std::chrono::system_clock::time_point deadline) {
  const auto latest = std::chrono::system_clock::now() + std::chrono::seconds(30);
  deadline = std::min(deadline, latest);
  {
    std::unique_lock<std::mutex> lock(mu_);
    const bool available = returned_.wait_until(
        lock, deadline, [this] { return !idle_.empty() || open_ < max_connections_; });
    if (!available) {
      return absl::DeadlineExceededError("all " + std::to_string(max_connections_) +
                                         " database connections stayed busy until the deadline");
    }
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
    ++open_;  // Reserves the slot; connecting happens unlocked.
  }
  try {
    return Lease(this, std::make_unique<pqxx::connection>(url_));
  } catch (const std::exception& e) {
    GiveBack(nullptr);
    return absl::UnavailableError(std::string("cannot connect to PostgreSQL: ") + e.what());
  }
}

void PgPool::GiveBack(std::unique_ptr<pqxx::connection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  if (connection != nullptr) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  returned_.notify_one();
}

void PgPool::DiscardIdle() {
  std::vector<std::unique_ptr<pqxx::connection>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing.swap(idle_);
    open_ -= static_cast<int>(closing.size());
    returned_.notify_all();
  }
  // `closing` disconnects here, unlocked.
}

absl::Status ApplySchema(PgPool& pool, std::string_view ddl) {
  absl::StatusOr<PgPool::Lease> lease =
      pool.Acquire(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!lease.ok()) return lease.status();
  try {
    pqxx::work tx(lease->connection());
    // An arbitrary constant shared by the example services: one schema change at a time.
    tx.exec("SELECT pg_advisory_xact_lock(7340210001)");
    tx.exec(std::string(ddl));
    tx.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    lease->Discard();
    return absl::UnavailableError(std::string("cannot create the tables: ") + e.what());
  }
}

}  // namespace skald::examples
