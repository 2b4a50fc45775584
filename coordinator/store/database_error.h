#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace skald::store {

// What a refusal by PostgreSQL means, decided from its SQLSTATE alone (no I/O, no libpqxx),
// so that the mapping can be read and tested in one place.
//
// The status codes are a contract with the store's callers (the engine above all):
//   UNAVAILABLE       the cause may pass (connection lost, read-only, disk full, a missing
//                     privilege, shutdown, a lock not available): retry with backoff;
//   ABORTED           a deadlock or serialization failure: retry the whole transaction;
//   ALREADY_EXISTS    a unique violation;
//   INVALID_ARGUMENT  a value the database refuses (class 22): retrying will not help;
//   INTERNAL          anything else.
struct DatabaseRefusal {
  absl::StatusCode code = absl::StatusCode::kInternal;
  // A plain cause a client may read, e.g. "the database is read-only". Never PostgreSQL's
  // own message, which may quote SQL text or stored values.
  std::string_view cause;
  // True when the connection it happened on must not be lent again: its session may keep
  // the state that caused the refusal (a connection opened while the database defaulted to
  // read-only stays read-only for its life), or it is closing.
  bool discard_connection = false;
  // True when the database refuses writes in general (read-only, disk full, privileges,
  // resources) rather than this one request: /readyz reports it.
  bool refuses_writes = false;
};

// Returns what `sqlstate` (five characters, e.g. "25006"; empty when unknown) means.
DatabaseRefusal ClassifySqlState(std::string_view sqlstate);

// Returns the status a caller sees for a refusal of the operation `what` (e.g.
// "start saga order-17"): "<what>: <cause>", with the refusal's code.
absl::Status RefusalStatus(std::string_view what, const DatabaseRefusal& refusal);

}  // namespace skald::store
