#pragma once

#include <chrono>
#include <cstdint>
#include <pqxx/transaction>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/core/state_machine.h"
#include "coordinator/store/connection.h"

// The notification outbox (table notification_outbox): completion notifications and alerts
// are written in the same transaction as the saga transition they report, so that none is
// lost and none reports a state that was not committed; a notifier delivers them later.
namespace skald::store {

// What the store queues besides completion notifications.
struct OutboxPolicy {
  // Where alerts go; empty: no alerts.
  std::string alert_url;
  // Alert once per saga and step when its compensation has failed this many times.
  int alert_compensation_failures = 3;
};

// Whether the transition finishes the saga, which then gets its completion notification
// (see core::NoticesOf): to the definition's `notify` URL and the saga's callback URL, one
// row per distinct URL, none when there is neither. The batch statement that writes the
// saga's row queues it (stmt::kUpdateSagas), so that sagas with nowhere to notify cost no
// outbox statement.
bool FinishesSaga(const core::SagaState& before, const core::Transition& transition);

// Queues, in `tx`, the alerts the transition from `before` to `transition.state` raises
// (see core::NoticesOf) to policy.alert_url; nothing when it is empty. REQUIRES: the saga's
// new row was written in `tx` (bodies are built from it).
void QueueAlerts(pqxx::work& tx, const core::SagaState& before, const core::Transition& transition,
                 const core::SagaDefinition& definition, const OutboxPolicy& policy);

// One notification to deliver, as claimed from the outbox.
struct OutboxDelivery {
  int64_t id = 0;
  // "saga.finished" or "alert" (the X-Skald-Event header).
  std::string event;
  std::string url;
  // The JSON body, exactly as to be sent.
  std::string payload;
  // Attempts made before this one.
  int attempts = 0;
};

// The notifier's access to the outbox. Thread-safe (each call borrows a pooled connection).
// Errors: UNAVAILABLE when the database cannot be reached, INTERNAL otherwise.
class OutboxStore {
 public:
  explicit OutboxStore(ConnectionPool& pool) : pool_(pool) {}

  // Takes up to `limit` undelivered rows that are due, oldest first, and pushes their next
  // attempt `lease` into the future, so that other notifiers (other coordinators) skip them
  // while this one delivers; a notifier that dies meanwhile leaves them due again once the
  // lease has passed. Concurrent claimers never get the same row. Ordered by id.
  absl::StatusOr<std::vector<OutboxDelivery>> Claim(int limit, std::chrono::milliseconds lease);

  // Records a successful attempt: the row is never sent again.
  absl::Status MarkDelivered(int64_t id);

  // Records a failed attempt with `error` (for people) and makes the row due again in
  // `retry_in`.
  absl::Status MarkFailed(int64_t id, const std::string& error, std::chrono::milliseconds retry_in);

  // Makes a claimed row due at once: this notifier will not get to it.
  absl::Status Release(int64_t id);

  // Queues a "saga_stuck" alert to `alert_url` for up to `limit` sagas unfinished (RUNNING,
  // COMPENSATING or FAILED) for longer than `after` since their creation, each once ever;
  // returns how many were queued.
  absl::StatusOr<int> QueueStuckAlerts(const std::string& alert_url,
                                       std::chrono::milliseconds after, int limit);

 private:
  ConnectionPool& pool_;
};

}  // namespace skald::store
