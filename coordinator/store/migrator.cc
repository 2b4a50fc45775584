#include "coordinator/store/migrator.h"

#include <pqxx/pqxx>
#include <set>

namespace skald::store {
namespace {

// An arbitrary constant naming Skald's migration lock among the database's advisory locks.
constexpr long long kMigrationLockKey = 0x736b616c64;  // "skald"

}  // namespace

absl::StatusOr<std::vector<int>> ApplyMigrations(ConnectionPool& pool,
                                                 const std::vector<Migration>& migrations) {
  std::vector<int> applied;
  absl::Status precondition;
  std::string failed_migration;
  absl::Status status = pool.Run("apply migrations", [&](pqxx::connection& c) {
    applied.clear();
    pqxx::work tx(c);
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    std::set<int> done;
    for (const auto& row : tx.exec("SELECT version FROM schema_migrations")) {
      done.insert(row[0].as<int>());
    }
    const int newest_known = migrations.empty() ? 0 : migrations.back().version;
    if (!done.empty() && *done.rbegin() > newest_known) {
      precondition = absl::FailedPreconditionError(
          "database schema is at version " + std::to_string(*done.rbegin()) +
          ", newer than this coordinator knows (" + std::to_string(newest_known) +
          "): upgrade the coordinator");
      return;
    }
    for (const Migration& migration : migrations) {
      if (done.contains(migration.version)) continue;
      try {
        tx.exec(std::string(migration.sql));
      } catch (const pqxx::sql_error& e) {
        // For the operator starting the coordinator, never a client: the migration's own
        // SQL is ours, and PostgreSQL's reason is what they need to fix it.
        std::string_view reason = e.what();
        failed_migration = "migration " + std::to_string(migration.version) + " (" +
                           std::string(migration.name) +
                           ") failed: " + std::string(reason.substr(0, reason.find('\n')));
        throw;
      }
      tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                     migration.version, std::string(migration.name));
      applied.push_back(migration.version);
    }
    tx.commit();
  });
  if (!status.ok() && !failed_migration.empty()) {
    return absl::Status(status.code(), std::string(status.message()) + "; " + failed_migration);
  }
  if (!status.ok()) return status;
  if (!precondition.ok()) return precondition;
  return applied;
}

absl::StatusOr<SchemaStatus> CheckMigrations(ConnectionPool& pool,
                                             const std::vector<Migration>& migrations) {
  std::set<int> done;
  absl::Status status = pool.Run("check migrations", [&](pqxx::connection& c) {
    done.clear();
    pqxx::read_transaction tx(c);
    if (tx.exec1("SELECT to_regclass('schema_migrations') IS NULL")[0].as<bool>()) return;
    for (const auto& row : tx.exec("SELECT version FROM schema_migrations")) {
      done.insert(row[0].as<int>());
    }
  });
  if (!status.ok()) return status;
  SchemaStatus schema;
  std::set<int> known;
  for (const Migration& migration : migrations) {
    known.insert(migration.version);
    if (!done.contains(migration.version)) schema.pending.push_back(migration.version);
  }
  for (int version : done) {
    if (!known.contains(version)) schema.unknown.push_back(version);
  }
  return schema;
}

}  // namespace skald::store
