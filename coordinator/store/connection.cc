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
  if (!borrowed.ok()) {
    if (observer_) observer_(OperationLabel(what), {}, borrowed.status());
    return borrowed.status();
  }
  std::unique_ptr<pqxx::connection> connection = std::move(*borrowed);
  const std::string context = std::string(what) + ": ";
  absl::Status status;
  const auto started = std::chrono::steady_clock::now();
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
  if (observer_) {
    observer_(OperationLabel(what), std::chrono::steady_clock::now() - started, status);
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

std::string_view OperationLabel(std::string_view what) {
  // What each Run call of the store begins its `what` with, and the label it is known by.
  static constexpr std::pair<std::string_view, std::string_view> kOperations[] = {
      {"apply migrations", "apply_migrations"},
      {"check connectivity", "check_connectivity"},
      {"check migrations", "check_migrations"},
      {"store definition", "store_definition"},
      {"load definition", "load_definition"},
      {"create saga", "create_saga"},
      {"load saga", "load_saga"},
      {"load history", "load_history"},
      {"count sagas", "count_sagas"},
      {"list sagas", "list_sagas"},
      {"list active sagas", "list_active_sagas"},
      {"delete finished sagas", "delete_finished_sagas"},
      {"commit saga transitions", "commit_transitions"},
      {"claim sagas", "claim_sagas"},
      {"take the lease", "take_lease"},
      {"renew_leases", "renew_leases"},
      {"reclaim_own_leases", "reclaim_own_leases"},
      {"release leases", "release_leases"},
      {"register ", "register_participant"},
      {"deregister ", "deregister_participant"},
      {"list participant instances", "list_participants"},
      {"claim notifications", "claim_notifications"},
      {"record notification", "record_notification"},
      {"record a failed delivery", "record_notification"},
      {"release notification", "release_notification"},
      {"queue alerts", "queue_alerts"},
  };
  std::string_view best = "other";
  size_t best_length = 0;
  for (const auto& [prefix, label] : kOperations) {
    const bool whole_word = what.size() == prefix.size() || prefix.back() == ' ' ||
                            (what.size() > prefix.size() && what[prefix.size()] == ' ');
    if (what.starts_with(prefix) && whole_word && prefix.size() > best_length) {
      best = label;
      best_length = prefix.size();
    }
  }
  return best;
}

void PrepareStatements(pqxx::connection& connection) {
  for (const Statement& statement : AllStatements()) {
    connection.prepare(std::string(statement.name), std::string(statement.sql));
  }
}

}  // namespace skald::store
