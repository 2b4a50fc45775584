#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
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
  // caught here and mapped: a lost connection becomes UNAVAILABLE (and the connection is
  // discarded, never reused), an unique violation ALREADY_EXISTS, anything else INTERNAL.
  // `what` names the operation in error messages, e.g. "start saga order-17".
  absl::Status Run(std::string_view what, const std::function<void(pqxx::connection&)>& work);

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
  void Return(std::unique_ptr<pqxx::connection> connection);

  const std::string uri_;
  const size_t size_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  size_t open_ = 0;
  RunObserver observer_;
};

// Returns the operation `what` (Run's argument) names, from a small fixed set, for metric
// labels: "create_saga", "load_saga", "commit_transitions", "claim_sagas", ... The longest
// known operation `what` begins with wins; anything else is "other". Never contains a
// saga id or any other value.
std::string_view OperationLabel(std::string_view what);

// Registers every prepared statement the store uses on `connection`.
void PrepareStatements(pqxx::connection& connection);

}  // namespace skald::store
