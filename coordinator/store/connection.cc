#include "coordinator/store/connection.h"

#include <pqxx/pqxx>

#include "coordinator/store/statements.h"

namespace skald::store {

ConnectionPool::ConnectionPool(std::string uri, size_t size)
    : uri_(std::move(uri)), size_(std::max<size_t>(1, size)) {}

ConnectionPool::~ConnectionPool() = default;

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectionPool::Borrow() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [this] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
  }
  ++open_;
  lock.unlock();
  try {
    auto connection = std::make_unique<pqxx::connection>(uri_);
    PrepareStatements(*connection);
    return connection;
  } catch (const std::exception& e) {
    lock.lock();
    --open_;
    available_.notify_one();
    return absl::UnavailableError(std::string("cannot connect to PostgreSQL: ") + e.what());
  }
}

void ConnectionPool::Return(std::unique_ptr<pqxx::connection> connection) {
  std::lock_guard lock(mutex_);
  if (connection) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  available_.notify_one();
}

absl::Status ConnectionPool::Run(std::string_view what,
                                 const std::function<void(pqxx::connection&)>& work) {
  auto borrowed = Borrow();
  if (!borrowed.ok()) return borrowed.status();
  std::unique_ptr<pqxx::connection> connection = std::move(*borrowed);
  const std::string context = std::string(what) + ": ";
  absl::Status status;
  try {
    work(*connection);
  } catch (const pqxx::in_doubt_error& e) {
    // The connection died during COMMIT: whether it took effect is unknown.
    connection.reset();
    status = absl::UnavailableError(context + "commit outcome unknown: " + e.what());
  } catch (const pqxx::broken_connection& e) {
    // libpqxx 6 would silently reconnect later, losing session state: drop it instead.
    connection.reset();
    status = absl::UnavailableError(context + "lost the database connection: " + e.what());
  } catch (const pqxx::unique_violation& e) {
    status = absl::AlreadyExistsError(context + e.what());
  } catch (const std::exception& e) {
    status = absl::InternalError(context + e.what());
  }
  if (connection && !connection->is_open()) connection.reset();
  Return(std::move(connection));
  return status;
}

absl::Status ConnectionPool::CheckConnectivity() {
  return Run("check connectivity", [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT 1");
  });
}

void PrepareStatements(pqxx::connection& connection) {
  for (const Statement& statement : AllStatements()) {
    connection.prepare(std::string(statement.name), std::string(statement.sql));
  }
}

}  // namespace skald::store
