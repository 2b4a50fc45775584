// The transactional outbox: start a saga exactly when the service's own PostgreSQL
// transaction commits.
//
//   pqxx::connection setup(url);
//   absl::Status schema = skald::ApplyOutboxSchema(setup);  // once, at startup
//   auto relay = skald::OutboxRelay::Start({.db_url = url, .coordinator = {"skald:7700"}});
//
//   pqxx::work tx(connection);
//   tx.exec_params("INSERT INTO orders ...", ...);
//   absl::StatusOr<std::string> saga_id =
//       skald::StartSagaInTransaction(tx, "order", input, "order-" + order_id);
//   tx.commit();  // the saga starts if and only if this commits
//
// StartSagaInTransaction writes the start request as a row of skald.saga_outbox inside the
// caller's transaction, and notifies the relays (pg_notify, delivered at commit). A rollback
// leaves nothing. An OutboxRelay, in this process or any other on the same database, claims
// committed rows (FOR UPDATE SKIP LOCKED, in small batches, each row locked until its
// outcome is recorded), calls the coordinator's StartSaga with the row's saga id, and records
// the outcome on the row. StartSaga is idempotent by saga id, so a row sent twice (a relay
// killed between the coordinator's answer and its own COMMIT) still makes one saga.
//
// Outcomes of a send (docs/participant-sdk.md, "Starting a saga from a transaction"):
//   - OK (a new saga, or the one that already had this id): the row is 'sent'; it is deleted
//     once older than OutboxRelayOptions::retention.
//   - INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, OUT_OF_RANGE,
//     UNIMPLEMENTED: the coordinator refuses this start for good. The row is 'refused' with
//     the code and message, never sent again by itself (ListRefusedStarts shows it;
//     RequeueRefusedStart sends it again after the cause is fixed).
//   - any other code (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAUTHENTICATED,
//     PERMISSION_DENIED, INTERNAL, ...): the row stays 'pending' and is tried again after a
//     backoff (doubling up to max_backoff), for as long as it takes.

#ifndef SKALD_SAGA_OUTBOX_H_
#define SKALD_SAGA_OUTBOX_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skald/coordinator_endpoint.h"

namespace skald {

// The channel StartSagaInTransaction notifies and the relays listen on.
inline constexpr char kOutboxChannel[] = "skald_saga_outbox";

// Creates schema `skald` and table skald.saga_outbox (with its indexes) if they do not exist,
// in one transaction serialized with every other caller on the same database. Idempotent.
// Returns Unavailable when the connection is broken, Internal with the database's message for
// any other error. REQUIRES: no transaction is open on `connection`.
absl::Status ApplyOutboxSchema(pqxx::connection& connection);

// What StartSagaInTransaction accepts; the defaults are the coordinator's own defaults.
struct OutboxLimits {
  std::size_t max_saga_id_length = 128;
  std::size_t max_definition_length = 128;
  std::size_t max_input_bytes = 1 << 20;  // the serialized input
  int max_input_depth = 64;               // nesting of arrays and objects
};

struct SagaStartOptions {
  int version = 0;  // 0: the newest version applied when the relay sends the start
  // W3C trace context the saga continues; empty: the coordinator makes one up.
  std::string traceparent;
  // Where the coordinator POSTs the saga's outcome; empty: none.
  std::string callback_url;
  OutboxLimits limits;
};

// Records in `tx` that saga `saga_id` of `definition` must start with `input`, once `tx`
// commits, and returns the saga id at once (the saga itself exists a few milliseconds after
// the commit, when a relay has sent it). An empty `saga_id` is replaced by a random one
// ("outbox-" and 32 hex digits). Recording the same saga id again (in the same transaction or
// while the first row is kept) with the same definition, version and input returns the id and
// adds nothing; with anything different it is AlreadyExists.
// Returns InvalidArgument naming the field when the saga id or definition is not 1 to 128 of
// [A-Za-z0-9._-] starting with a letter or digit, the input is not a JSON object, is nested
// too deep, holds a NUL character or invalid UTF-8, or the version or a URL is bad;
// ResourceExhausted when the input is over max_input_bytes. Database errors are thrown, as
// any statement of `tx` would (the caller's transaction is then unusable, as usual).
// REQUIRES: ApplyOutboxSchema() has succeeded on this database.
absl::StatusOr<std::string> StartSagaInTransaction(pqxx::work& tx, std::string_view definition,
                                                   const nlohmann::json& input,
                                                   std::string_view saga_id = {},
                                                   const SagaStartOptions& options = {});

// A start the coordinator refused for good.
struct RefusedStart {
  std::int64_t id = 0;  // the row's id
  std::string saga_id;
  std::string definition;
  std::string error_code;  // the gRPC code's name, e.g. "NOT_FOUND"
  std::string error_message;
  int attempts = 0;
  std::chrono::system_clock::time_point created_at;
  std::chrono::system_clock::time_point refused_at;
};

// Returns at most `limit` refused starts, oldest first. REQUIRES: no transaction is open.
absl::StatusOr<std::vector<RefusedStart>> ListRefusedStarts(pqxx::connection& connection,
                                                            int limit = 100);

// Makes the refused start of `saga_id` pending again (e.g. after applying the definition it
// named), so that a relay sends it at once. NotFound when no refused row has this saga id.
absl::Status RequeueRefusedStart(pqxx::connection& connection, std::string_view saga_id);

// The outbox as a metric: how far behind the relays are.
struct OutboxBacklog {
  std::int64_t pending = 0;  // rows not sent yet (counted up to 100,000)
  std::int64_t refused = 0;  // rows refused for good (counted up to 100,000)
  // Age of the oldest pending row; zero when none is pending.
  std::chrono::milliseconds oldest_pending_age{0};
};

absl::StatusOr<OutboxBacklog> ReadOutboxBacklog(pqxx::connection& connection);

struct OutboxRelayOptions {
  std::string db_url;               // the service's database (the outbox's)
  CoordinatorEndpoint coordinator;  // where StartSaga goes
  int batch_size = 32;              // rows claimed, and sent in parallel, at once (1..1000)
  std::chrono::milliseconds call_deadline{5000};          // per StartSaga call
  std::chrono::milliseconds poll_interval{1000};          // a look without a notification
  std::chrono::milliseconds initial_backoff{200};         // after a transient failure...
  std::chrono::milliseconds max_backoff{30'000};          // ...doubling up to this
  std::chrono::milliseconds retention{24 * 3600 * 1000};  // sent rows are kept this long
  std::chrono::milliseconds cleanup_interval{60'000};
  // Reports what an operator should see (a refusal, an unreachable coordinator or database);
  // the default writes one line to stderr. Called from the relay's thread.
  std::function<void(const std::string& message)> log;
};

// Counters since the relay started, and the last backlog it read.
struct OutboxRelayStats {
  std::int64_t sent = 0;     // rows marked sent
  std::int64_t created = 0;  // ...of which the coordinator created the saga (not a repeat)
  std::int64_t refused = 0;  // rows marked refused
  std::int64_t transient_failures = 0;  // sends to be tried again
  std::int64_t cleaned = 0;             // sent rows deleted after the retention period
  std::int64_t database_errors = 0;
  // Read whenever the relay goes idle, and at least every 250 ms while it is busy or
  // waiting for the coordinator.
  OutboxBacklog backlog;
};

// Forwards committed outbox rows to the coordinator on a thread of its own, until destroyed.
// Any number of relays may serve one outbox, in one process or several.
class OutboxRelay {
 public:
  // Checks the options (InvalidArgument naming a bad one, including an unreadable TLS file)
  // and starts the relay. It does not wait for the database or the coordinator: it keeps
  // trying both in the background.
  static absl::StatusOr<std::unique_ptr<OutboxRelay>> Start(OutboxRelayOptions options);

  virtual ~OutboxRelay() = default;
  virtual OutboxRelayStats stats() const = 0;
  // Wakes the relay now, as a notification would.
  virtual void Wake() = 0;
};

}  // namespace skald

#endif  // SKALD_SAGA_OUTBOX_H_
