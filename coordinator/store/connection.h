#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skald::store {

// Connections to the coordinator's PostgreSQL database, shared by the engine and the API.
// libpqxx connections are not thread-safe, so each is lent to one caller at a time.
class ConnectionPool {
 public:
  // `uri` is a libpq connection string or URI. Connections open lazily, up to `size`.
  ConnectionPool(std::string uri, size_t size);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Runs `work` on a borrowed connection and returns its status. libpqxx exceptions are
  // caught here and mapped by their SQLSTATE (see ClassifySqlState in database_error.h):
  // UNAVAILABLE while the cause may pass (connection lost, read-only, disk full, a missing
  // privilege, shutdown), ABORTED for a deadlock or serialization failure, ALREADY_EXISTS
  // for a unique violation, INVALID_ARGUMENT for a value the database refuses, INTERNAL
  // otherwise. The message names `what` (the operation, e.g. "start saga order-17") and a
  // plain cause, never SQL text or PostgreSQL's own message, which go to the log. A
  // connection whose session may keep the cause (read-only, privileges, closing) is
  // discarded, never lent again.
  absl::Status Run(std::string_view what, const std::function<void(pqxx::connection&)>& work);

  // Returns the cause of the last refusal that concerns the database as a whole rather than
  // one request (read-only, disk full, a missing privilege, insufficient resources), if one
  // happened within `within` of now. (A write probe alone cannot see a full disk: an update
  // that fits in its page still succeeds while every insert that needs a new page fails.)
  std::optional<std::string> RecentWriteRefusal(std::chrono::steady_clock::duration within);

  // Opens one connection now; returns why it could not.
  absl::Status CheckConnectivity();

  // Told, on the caller's thread, of every Run once it ends: its operation (see
  // OperationLabel), how long the work took on its connection (0 when none could be had),
  // and the status Run returns.
  using RunObserver =
      std::function<void(std::string_view operation, std::chrono::steady_clock::duration elapsed,
                         const absl::Status& status)>;
  // REQUIRES: called before the pool is used from more than one thread.
  void SetObserver(RunObserver observer) { observer_ = std::move(observer); }

  const std::string& uri() const { return uri_; }

 private:
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Borrow();
  // Gives `connection` back; null when it was discarded (see Forget).
  void Return(std::unique_ptr<pqxx::connection> connection);
  // Closes a connection that must not be lent again (the caller then Returns null).
  void Forget(std::unique_ptr<pqxx::connection> connection);

  const std::string uri_;
  const size_t size_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  size_t open_ = 0;
  // Connections opened while the database defaulted to read-only: lent once, then closed.
  std::unordered_set<const pqxx::connection*> born_read_only_;
  RunObserver observer_;

  // Logs `detail` about a refusal, at most once a second per `key` (a SQLSTATE): a client
  // or a retry loop must not flood the log while the database refuses everything.
  void LogRefusal(const std::string& key, std::string_view what, std::string_view detail);

  std::mutex refusals_mutex_;
  std::optional<std::chrono::steady_clock::time_point> last_write_refusal_at_;
  std::string last_write_refusal_;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, int>> logged_;
};

// Returns the operation `what` (Run's argument) names, from a small fixed set, for metric
// labels: "create_saga", "load_saga", "commit_transitions", "claim_sagas", ... The longest
// known operation `what` begins with wins; anything else is "other". Never contains a
// saga id or any other value.
std::string_view OperationLabel(std::string_view what);

// Registers every prepared statement the store uses on `connection`.
void PrepareStatements(pqxx::connection& connection);

}  // namespace skald::store
