// PgPool lends PostgreSQL connections to handler calls: a pqxx::connection is not
// thread-safe, and handlers run concurrently on the gRPC server's threads.

#ifndef SKALD_EXAMPLES_ORDER_SAGA_COMMON_PG_POOL_H_
#define SKALD_EXAMPLES_ORDER_SAGA_COMMON_PG_POOL_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skald::examples {

class PgPool {
 public:
  // A connection on loan. Returned to the pool when destroyed, unless discarded.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    pqxx::connection& connection() { return *connection_; }

    // Closes the connection instead of returning it. Call it after broken_connection or
    // in_doubt_error: libpqxx 6 may otherwise reconnect it silently, losing session state.
    void Discard() { connection_.reset(); }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<pqxx::connection> connection);

    PgPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
  };

  // REQUIRES: max_connections >= 1. Connects lazily.
  PgPool(std::string url, int max_connections);
  // REQUIRES: no Lease is outstanding.
  ~PgPool() = default;

  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Returns an idle connection, or a new one while fewer than max_connections are open, or
  // else the first one given back before `deadline` (waiting at most 30 s). Returns
  // Unavailable when connecting fails, DeadlineExceeded when no connection came back.
  absl::StatusOr<Lease> Acquire(std::chrono::system_clock::time_point deadline);

  // Closes every idle connection. Call it after a broken connection: the others were most
  // likely cut by the same server restart.
  void DiscardIdle();

 private:
  // Takes back a lent connection; null when the borrower discarded it.
  void GiveBack(std::unique_ptr<pqxx::connection> connection);

  const std::string url_;
  const int max_connections_;

  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // Guarded by mu_.
  int open_ = 0;  // Idle plus lent connections. Guarded by mu_.
};

// Runs `ddl` (one or more statements, no parameters) in one transaction, serialized with
// every other caller of ApplySchema on the same database so that services starting together
// do not race on CREATE ... IF NOT EXISTS. Returns the database error, if any.
absl::Status ApplySchema(PgPool& pool, std::string_view ddl);

}  // namespace skald::examples

#endif  // SKALD_EXAMPLES_ORDER_SAGA_COMMON_PG_POOL_H_
