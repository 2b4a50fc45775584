#include "coordinator/store/connection.h"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include "coordinator/store/database_error.h"
#include "coordinator/store/statements.h"

namespace skald::store {
namespace {

// Returns the SQLSTATE of a libpqxx exception. libpqxx 6.4 throws some kinds without one
// (a lost connection, a deadlock, a serialization failure, a missing privilege, a full
// disk): their type says which it was. Empty for anything else without a SQLSTATE.
std::string SqlStateOf(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql && !sql->sqlstate().empty()) {
    return sql->sqlstate();
  }
  // Most specific first: too_many_connections is a broken_connection, disk_full an
  // insufficient_resources.
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e)) return "08007";
  if (dynamic_cast<const pqxx::too_many_connections*>(&e)) return "53300";
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) return "08006";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return "40P01";
  if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return "40001";
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e)) return "40000";
  if (dynamic_cast<const pqxx::insufficient_privilege*>(&e)) return "42501";
  if (dynamic_cast<const pqxx::disk_full*>(&e)) return "53100";
  if (dynamic_cast<const pqxx::out_of_memory*>(&e)) return "53200";
  if (dynamic_cast<const pqxx::insufficient_resources*>(&e)) return "53000";
  if (dynamic_cast<const pqxx::unique_violation*>(&e)) return "23505";
  if (dynamic_cast<const pqxx::data_exception*>(&e)) return "22000";
  return "";
}

// The first line of an exception's message, at most 300 bytes: PostgreSQL's primary
// message, without the DETAIL and CONTEXT lines that may quote stored values.
std::string PrimaryMessage(const std::exception& e) {
  std::string_view text = e.what();
  text = text.substr(0, text.find('\n'));
  return std::string(text.substr(0, 300));
}

}  // namespace

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
    // A session opened while the database defaults to read-only (ALTER DATABASE ... SET
    // default_transaction_read_only, what a failed-over or storage-full managed PostgreSQL
    // does) stays read-only for its life, even after the setting is reset: lend it once
    // only, so that writes work as soon as the database takes them again.
    bool born_read_only = false;
    {
      pqxx::nontransaction tx(*connection);
      born_read_only = tx.exec1("SELECT current_setting('default_transaction_read_only')")[0]
                           .as<std::string>() == "on";
    }
    if (born_read_only) {
      std::lock_guard guard(mutex_);
      born_read_only_.insert(connection.get());
    }
    return connection;
  } catch (const std::exception& e) {
    lock.lock();
    --open_;
    available_.notify_one();
    lock.unlock();
    // libpq's own message (e.g. 'password authentication failed for user "skald"') is for
    // the operator's log; callers only learn that there is no connection.
    LogRefusal("connect", "connect", PrimaryMessage(e));
    return absl::UnavailableError("cannot connect to the database");
  }
}

void ConnectionPool::Return(std::unique_ptr<pqxx::connection> connection) {
  std::lock_guard lock(mutex_);
  if (connection && born_read_only_.erase(connection.get()) > 0) connection.reset();
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
  absl::Status status;
  const auto started = std::chrono::steady_clock::now();
  try {
    work(*connection);
  } catch (const std::exception& e) {
    const std::string sqlstate = SqlStateOf(e);
    const DatabaseRefusal refusal = ClassifySqlState(sqlstate);
    status = RefusalStatus(what, refusal);
    // A refused duplicate is an answer the caller expects, not a failure worth a log line.
    if (refusal.code != absl::StatusCode::kAlreadyExists) {
      LogRefusal(sqlstate, what,
                 (sqlstate.empty() ? "" : "SQLSTATE " + sqlstate + ": ") + PrimaryMessage(e));
    }
    // libpqxx 6 would silently reconnect a broken connection later, losing session state;
    // a session opened while the database defaulted to read-only stays so for its life.
    if (refusal.discard_connection) Forget(std::move(connection));
    if (refusal.refuses_writes) {
      std::lock_guard lock(refusals_mutex_);
      last_write_refusal_at_ = std::chrono::steady_clock::now();
      last_write_refusal_ = std::string(refusal.cause);
    }
  }
  if (observer_) {
    observer_(OperationLabel(what), std::chrono::steady_clock::now() - started, status);
  }
  if (connection && !connection->is_open()) Forget(std::move(connection));
  Return(std::move(connection));
  return status;
}

void ConnectionPool::Forget(std::unique_ptr<pqxx::connection> connection) {
  std::lock_guard lock(mutex_);
  born_read_only_.erase(connection.get());
}

std::optional<std::string> ConnectionPool::RecentWriteRefusal(
    std::chrono::steady_clock::duration within) {
  std::lock_guard lock(refusals_mutex_);
  if (!last_write_refusal_at_ ||
      std::chrono::steady_clock::now() - *last_write_refusal_at_ > within) {
    return std::nullopt;
  }
  return last_write_refusal_;
}

void ConnectionPool::LogRefusal(const std::string& key, std::string_view what,
                                std::string_view detail) {
  const auto now = std::chrono::steady_clock::now();
  int suppressed = 0;
  {
    std::lock_guard lock(refusals_mutex_);
    auto [it, inserted] = logged_.try_emplace(key, now, 0);
    if (!inserted && now - it->second.first < std::chrono::seconds(1)) {
      ++it->second.second;
      return;
    }
    suppressed = it->second.second;
    it->second = {now, 0};
  }
  if (suppressed > 0) {
    spdlog::warn("database: {} refused: {} (and {} more like it in the last second)", what, detail,
                 suppressed);
  } else {
    spdlog::warn("database: {} refused: {}", what, detail);
  }
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
      {"renew leases", "renew_leases"},
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
      {"write the readiness heartbeat", "readiness_heartbeat"},
      {"load the cluster secret", "load_cluster_secret"},
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
