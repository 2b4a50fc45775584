#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/store/connection.h"

namespace skald::store {

// One file of migrations/: NNNN_name.sql.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Returns the migrations compiled into this binary, in version order.
const std::vector<Migration>& EmbeddedMigrations();

// Applies, in one transaction, every migration in `migrations` not yet recorded in the
// database's schema_migrations table, and records it there. Concurrent callers (several
// coordinators starting at once) serialize on an advisory lock, so each migration runs
// once. Returns the versions applied now (empty when the schema was current). Fails with
// FAILED_PRECONDITION when the database holds a version this binary does not know.
absl::StatusOr<std::vector<int>> ApplyMigrations(ConnectionPool& pool,
                                                 const std::vector<Migration>& migrations);

// The database's schema compared with a list of migrations.
struct SchemaStatus {
  // Versions of the list the database has not applied.
  std::vector<int> pending;
  // Versions the database has applied that the list does not know (a newer coordinator's).
  std::vector<int> unknown;
  bool current() const { return pending.empty() && unknown.empty(); }
};

// Reads, without changing anything, which of `migrations` the database has applied. Fails
// as ConnectionPool::Run does, e.g. UNAVAILABLE when the database cannot be reached.
absl::StatusOr<SchemaStatus> CheckMigrations(ConnectionPool& pool,
                                             const std::vector<Migration>& migrations);

}  // namespace skald::store
