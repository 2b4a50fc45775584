#include "common/database.h"

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>

namespace skald::examples {
namespace {

constexpr auto kConnectionWait = std::chrono::seconds(30);

}  // namespace

absl::Status WithConnection(ConnectionSource& connections,
                            const std::function<absl::Status(pqxx::connection&)>& work) {
  absl::StatusOr<std::unique_ptr<pqxx::connection>> connection =
      connections.Acquire(std::chrono::system_clock::now() + kConnectionWait);
  if (!connection.ok()) return connection.status();
  absl::Status status;
  try {
    status = work(**connection);
  } catch (const std::exception& e) {
    status = absl::UnavailableError(e.what());
  }
  // After a failure the connection may be broken, or be silently reconnected by libpqxx 6
  // later: it is not lent again.
  connections.Release(*std::move(connection), status.ok());
  return status;
}

absl::Status ApplySchema(ConnectionSource& connections, std::string_view ddl) {
  absl::Status status = WithConnection(connections, [ddl](pqxx::connection& connection) {
    pqxx::work tx(connection);
    // An arbitrary constant shared by the example services: one schema change at a time.
    tx.exec("SELECT pg_advisory_xact_lock(7340210001)");
    tx.exec(std::string(ddl));
    tx.commit();
    return absl::OkStatus();
  });
  if (status.ok()) return status;
  return absl::Status(status.code(), "cannot create the tables: " + std::string(status.message()));
}

}  // namespace skald::examples
