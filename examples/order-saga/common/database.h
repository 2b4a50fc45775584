// Database work the example services do at startup (schemas, seed data), on connections
// borrowed from the SDK's ConnectionSource, the same pool their handlers use.

#ifndef SKALD_EXAMPLES_ORDER_SAGA_COMMON_DATABASE_H_
#define SKALD_EXAMPLES_ORDER_SAGA_COMMON_DATABASE_H_

#include <functional>
#include <pqxx/pqxx>
#include <string_view>

#include "absl/status/status.h"
#include "skald/barrier.h"

namespace skald::examples {

// Runs `work` on a connection borrowed from `connections` (waiting at most 30 s for one),
// then gives the connection back; one whose work failed or threw is closed, not reused.
// Returns the borrowing error, what `work` returned, or Unavailable with the message of
// the exception it threw.
absl::Status WithConnection(ConnectionSource& connections,
                            const std::function<absl::Status(pqxx::connection&)>& work);

// Runs `ddl` (one or more statements, no parameters) in one transaction, serialized with
// every other caller of ApplySchema on the same database so that services starting together
// do not race on CREATE ... IF NOT EXISTS. Returns the database error, if any.
absl::Status ApplySchema(ConnectionSource& connections, std::string_view ddl);

}  // namespace skald::examples

#endif  // SKALD_EXAMPLES_ORDER_SAGA_COMMON_DATABASE_H_
