// The sub-transaction barrier: runs a participant's step handler inside the participant's own
// PostgreSQL transaction together with a barrier record keyed by (saga id, step, phase), so
// that calls delivered more than once, out of order, or concurrently have exactly the effect
// of one in-order delivery.
//
//   pqxx::connection setup(url);
//   absl::Status schema = skald::ApplyBarrierSchema(setup);  // once, at startup
//   std::shared_ptr<skald::ConnectionSource> pool = skald::NewConnectionPool(url, 8);
//   server.on_action("charge", skald::Barrier(pool, Charge));
//   server.on_compensation("refund", skald::Barrier(pool, Refund));
//
// What a call through Barrier() does, in one transaction on a connection of its own:
//   1. waits (at most BarrierOptions::lock_wait and until the call's deadline) for a
//      transaction-scoped advisory lock on (saga id, step), which serializes both phases of a
//      step across every connection and process using the same database;
//   2. if a barrier record exists for (saga id, step, phase), returns the result recorded
//      there: the handler is not called again (a repeat returns the FIRST result). A record
//      of an ACCEPTED result (StepResult::Accepted(): the work goes on after the reply and
//      is completed with the call's completion token) is kept with its attempt and token:
//        - a delivery with the same token (a duplicate of the same attempt) is answered
//          Accepted again without calling the handler: the work is already under way;
//        - a delivery of a later attempt (its token differs; it comes after the earlier
//          attempt's heartbeat timeout or deadline) calls the handler again, as in 5., so
//          the work restarts under the new token, and its result replaces the record. The
//          handler then sees its own writes of the accepted attempt: they were committed;
//        - a delivery of an earlier attempt than the recorded one is answered retryable
//          "stale_attempt" without calling the handler (the coordinator has moved on);
//   3. an action whose step already has a compensation record is refused without calling the
//      handler: business failure "compensated_before_action", recorded;
//   4. a compensation whose action has no record, or whose action failed (business
//      failure or refused: it had no effect), is a "null compensation": success with an
//      empty output, recorded with origin 'null_compensation', without calling the handler.
//      An accepted action is not such a case: it may have been completed with success since
//      (the barrier does not see completions), so its compensation calls the handler;
//   5. otherwise calls the handler inside a savepoint, and
//        - success or accepted: commits the handler's writes together with the record
//          (accepted without a completion token in the context is refused like a retryable
//          error, "no_completion_token": nobody could complete the step);
//        - business failure: rolls the handler's writes back (a business failure means "no
//          effect") and commits the record of the failure, so a repeat returns it;
//        - retryable error, an exception, or a success whose output is not a JSON object
//          (replied as retryable "invalid_output"): rolls everything back and records
//          nothing, so a retry runs the handler again;
//        - success or business failure, but the call's deadline passed before COMMIT:
//          rolls everything back, records nothing, and answers retryable
//          "deadline_exceeded". The caller has given up on this attempt and will retry it;
//          rolling back keeps the participant's effects within the deadlines its caller
//          knows of, and the retry runs the handler again. (Only a COMMIT that starts before
//          the deadline can end after it; the retry then finds its record.)
//   The deadline bounds the rest of the work too: a call whose deadline passed before its
//   transaction began is answered retryable "deadline_exceeded" at once, and each statement
//   of the transaction (the handler's included) runs under a statement_timeout of the time
//   that was left when the transaction began; a statement it cancels rolls everything back
//   and is answered "deadline_exceeded" as well.
//   Database errors become retryable errors: "barrier_busy" when another delivery of the
//   same step held the lock for longer than the wait, "database_unavailable" for a broken
//   connection (the connection is discarded; a break before COMMIT is retried once on a
//   fresh connection), "database_in_doubt" when the connection died during COMMIT (a retry
//   finds the record if it committed), "database_error" for any other.
//
// Records are never deleted by the SDK; a participant may delete those of finished sagas.

#ifndef SKALD_BARRIER_H_
#define SKALD_BARRIER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skald/step.h"

namespace skald {

// Creates schema `skald` and table skald.barrier if they do not exist, in one transaction,
// serialized by a transaction-scoped advisory lock with every other caller on the same
// database (services starting together do not race). Idempotent. Returns Unavailable when
// the connection is broken, Internal with the database's message for any other error.
// REQUIRES: no transaction is open on `connection`.
//
// The table: PRIMARY KEY (saga_id, step, phase); phase is 'action' or 'compensation';
// outcome is 'success', 'business_failure' or 'accepted'; origin is 'handler' (the handler
// ran), 'null_compensation' or 'refused' (the handler was not called); output_json (text),
// error_code, error_message, handler, recorded_at, attempt and completion_token (of the call
// recorded). A table made by an SDK older than accepted steps gains the last two columns and
// the 'accepted' outcome here; such an older SDK sharing the table must not serve steps that
// answer accepted (it would read an 'accepted' record as a business failure). The Go SDK's
// ApplyBarrierSchema makes the same table.
absl::Status ApplyBarrierSchema(pqxx::connection& connection);

// Lends PostgreSQL connections to Barrier() handlers, one per call in progress (a
// pqxx::connection is not thread-safe). Implementations must be thread-safe.
class ConnectionSource {
 public:
  virtual ~ConnectionSource() = default;

  // Returns an open connection, with no transaction open, for the caller's exclusive use
  // until it is given to Release(). Waits for one at most until `deadline`. Returns
  // Unavailable when connecting fails, DeadlineExceeded when none became free in time.
  virtual absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire(
      std::chrono::system_clock::time_point deadline) = 0;

  // Takes back a connection returned by Acquire(). `reusable` is false after a broken
  // connection or an unknown COMMIT outcome: the connection must then be closed, not lent
  // again (libpqxx 6 would otherwise silently reconnect it).
  virtual void Release(std::unique_ptr<pqxx::connection> connection, bool reusable) = 0;
};

// Returns a pool of at most `max_connections` connections to `url`, opened on demand and
// kept open while idle. Acquire() waits at most 30 s. REQUIRES: max_connections >= 1.
std::shared_ptr<ConnectionSource> NewConnectionPool(std::string url, int max_connections);

// A participant's handler run inside the barrier's transaction `tx`. It writes through `tx`
// only, and must not commit or abort it (savepoints of its own are fine). It must have no
// effect outside `tx`: it may be run again after a retryable result or an exception. It may
// throw; an exception rolls back its writes.
using TxHandler = std::function<StepResult(pqxx::work& tx, const StepContext& context,
                                           const nlohmann::json& input)>;

struct BarrierOptions {
  // How long a call waits for another delivery of the same step (or its other phase) to
  // finish before answering retryable "barrier_busy". The call's deadline also bounds it.
  std::chrono::milliseconds lock_wait = std::chrono::seconds(5);
};

// Returns a StepHandler running `handler` behind the barrier described above; register it
// with ParticipantServer::on_action or on_compensation. A call whose saga_id or step is empty
// is answered with business failure "invalid_input". REQUIRES: `connections` and `handler` are not
// empty; ApplyBarrierSchema() has succeeded on the database of `connections`.
StepHandler Barrier(std::shared_ptr<ConnectionSource> connections, TxHandler handler,
                    BarrierOptions options = {});

}  // namespace skald

#endif  // SKALD_BARRIER_H_
