#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/core/state_machine.h"
#include "coordinator/store/outbox.h"

namespace skald::store {

// Where a saga stands, without its steps: what a client waiting for it needs.
struct SagaOutcome {
  core::SagaStatus status = core::SagaStatus::kRunning;
  std::string error;
};

// A saga as the API shows it.
struct SagaRecord {
  core::SagaState state;
  std::string definition_name;
  int definition_version = 0;
  std::vector<std::string> step_names;
  std::string created_at;  // RFC 3339, UTC
  std::string updated_at;
  // As given on start or generated; empty for sagas stored before traceparents were kept
  // (see core::SagaTraceParent). Not filled in by ListSagas.
  std::string traceparent;
  // Where the saga's outcome is POSTed besides the definition's notify URL; empty: none.
  std::string callback_url;
};

// What a saga is created with besides its definition and input.
struct SagaStartOptions {
  // W3C trace context its participant calls continue ("00-..."); empty: none stored.
  std::string traceparent;
  // Where to POST its outcome, besides the definition's notify URL; empty: none.
  std::string callback_url;
};

// One saga to create, as CreateSaga takes it; for CreateSagas.
struct SagaToCreate {
  // REQUIRES: non-null.
  std::shared_ptr<const core::SagaDefinition> definition;
  // Empty: a fresh UUID.
  std::string saga_id;
  nlohmann::json input;
  SagaStartOptions options;
};

// One stored history event.
struct HistoryRecord {
  int64_t id = 0;
  std::string at;  // RFC 3339, UTC, milliseconds
  std::string type;
  std::string step;   // empty for saga-wide events
  std::string phase;  // "action", "compensation" or empty
  int attempt = 0;
  std::string detail_json;
};

struct SagaFilter {
  std::optional<core::SagaStatus> status;
  std::optional<std::string> definition_name;
  // Creation-time bounds (timestamps PostgreSQL reads, e.g. RFC 3339):
  // created_after <= created_at < created_before.
  std::optional<std::string> created_after;
  std::optional<std::string> created_before;
  int page_size = 50;
  std::string page_token;
};

struct SagaPage {
  // Newest first; step lists are left empty.
  std::vector<SagaRecord> sagas;
  std::string next_page_token;
};

struct CreatedSaga {
  std::string saga_id;
  // False when a saga with the requested id existed already.
  bool created = false;
  // The lease the creating coordinator holds on a saga created now.
  int64_t lease_token = 0;
};

// The right of one coordinator to drive one saga, until it expires or another claims it.
struct Lease {
  std::string saga_id;
  // The fencing token: every state write must carry it.
  int64_t token = 0;
};

// Who holds leases, and for how long each grant or renewal lasts.
struct LeaseHolder {
  std::string owner;
  std::chrono::milliseconds ttl{5'000};
};

// One saga's committed transition, as the engine hands it to the store.
struct TransitionWrite {
  const core::SagaState* before;
  const core::Transition* transition;
  const core::SagaDefinition* definition;
  // The token of the lease the writer holds on the saga.
  int64_t lease_token = 0;
};

// The PostgreSQL channel on which coordinators announce sagas they released.
inline constexpr const char* kWorkChannel = "skald_work";

// Where definitions, sagas, their leases and their history are kept: PostgreSQL in
// production (PostgresSagaStore), memory in the simulator. Implementations are
// thread-safe and keep the same lease, fencing and all-or-nothing semantics. Errors: UNAVAILABLE
// when the database cannot be reached, NOT_FOUND / ALREADY_EXISTS as documented per call, INTERNAL
// for anything unexpected.
class SagaStore {
 public:
  virtual ~SagaStore() = default;

  // Stores `definition`. Returns true when stored now, false when the same name and version
  // was already stored with an identical document; ALREADY_EXISTS when it was stored with a
  // different one (versions are immutable once applied).
  virtual absl::StatusOr<bool> PutDefinition(const core::SagaDefinition& definition) = 0;

  // Returns definition `name` at `version`, or at its highest version when `version` is 0.
  // NOT_FOUND when there is none.
  virtual absl::StatusOr<core::SagaDefinition> GetDefinition(const std::string& name,
                                                             int version) = 0;

  // Creates a saga of `definition` with `input`, its steps PENDING, and records its
  // creation in the history, in one transaction; `holder` gets its lease. An empty
  // `saga_id` gets a fresh UUID. When `saga_id` names an existing saga of the same
  // definition, returns it with created=false (and its own `options`); of another
  // definition, ALREADY_EXISTS.
  virtual absl::StatusOr<CreatedSaga> CreateSaga(const core::SagaDefinition& definition,
                                                 const std::string& saga_id,
                                                 const nlohmann::json& input,
                                                 const LeaseHolder& holder,
                                                 const SagaStartOptions& options = {}) = 0;

  // Creates every saga of `sagas` as CreateSaga would, in their order as if one after the
  // other (a repeated id answers created=false or ALREADY_EXISTS like a later call), and
  // commits them together: one transaction, one commit, however many. Returns one result
  // per saga, in the same order. A saga the database refuses gets its own error (the one
  // CreateSaga would return) and never fails the others; only a cause that concerns the
  // database as a whole (UNAVAILABLE: unreachable, read-only, the commit's outcome unknown)
  // is every saga's result. For a start that must not wait for its own commit (group commit).
  virtual std::vector<absl::StatusOr<CreatedSaga>> CreateSagas(
      const std::vector<SagaToCreate>& sagas, const LeaseHolder& holder) = 0;

  // Takes the leases of up to `limit` unfinished sagas whose lease is free or expired,
  // oldest first, for `holder`; each claim gets a new token. Concurrent claimers never get
  // the same saga.
  virtual absl::StatusOr<std::vector<Lease>> ClaimSagas(const LeaseHolder& holder, int limit) = 0;

  // Extends every lease `holder` still owns and returns them; a saga missing from the
  // result was claimed by another coordinator and must no longer be driven.
  virtual absl::StatusOr<std::vector<Lease>> RenewLeases(const LeaseHolder& holder) = 0;

  // Takes back, with new tokens, every unfinished saga still leased to `holder`'s name: for
  // a coordinator restarted under the same name. REQUIRES: no other live process uses it.
  virtual absl::StatusOr<std::vector<Lease>> ReclaimOwnLeases(const LeaseHolder& holder) = 0;

  // Gives up every lease of `owner` and tells the other coordinators, so that they take
  // the sagas over at once rather than after the leases expire.
  virtual absl::Status ReleaseLeases(const std::string& owner) = 0;

  // Makes `holder` the saga's lease holder, whatever its state and whoever held it, and
  // returns the lease's token: unchanged when `holder` already held it (so that its engine
  // is not fenced off by its own hand), one higher otherwise (fencing the previous holder).
  // For operator actions, which the coordinator answering the operator carries out.
  // NOT_FOUND when there is no such saga.
  virtual absl::StatusOr<int64_t> TakeLease(const std::string& saga_id,
                                            const LeaseHolder& holder) = 0;

  // Returns the saga with its steps; NOT_FOUND when there is none.
  virtual absl::StatusOr<SagaRecord> GetSaga(const std::string& saga_id) = 0;

  // Deletes at most `limit` sagas that finished (COMPLETED or COMPENSATED) more than `age`
  // ago, with their steps, history and notifications, oldest first; returns how many.
  // FAILED sagas are kept: they wait for an operator.
  virtual absl::StatusOr<int> DeleteFinishedSagas(std::chrono::milliseconds age, int limit) = 0;

  // Returns the saga's state and error alone (one indexed read); NOT_FOUND when there is
  // none.
  virtual absl::StatusOr<SagaOutcome> GetSagaOutcome(const std::string& saga_id) = 0;

  // Returns one page of sagas matching `filter`; INVALID_ARGUMENT for a bad page token.
  virtual absl::StatusOr<SagaPage> ListSagas(const SagaFilter& filter) = 0;

  // Returns how many sagas are in each state (of one definition, when given); every state
  // is present, with 0 when none.
  virtual absl::StatusOr<std::map<core::SagaStatus, int64_t>> CountSagas(
      const std::optional<std::string>& definition_name) = 0;

  // Returns up to `limit` events of the saga's history with an id above `after_id`, oldest
  // first; NOT_FOUND for an unknown saga.
  virtual absl::StatusOr<std::vector<HistoryRecord>> GetHistory(const std::string& saga_id,
                                                                int64_t after_id, int limit) = 0;

  // Returns the ids of every saga not in a terminal state, oldest first.
  virtual absl::StatusOr<std::vector<std::string>> ActiveSagaIds() = 0;

  // Commits the new state and history of every saga in `writes` in one transaction: all
  // or none of them take effect. A saga whose lease `owner` no longer holds with the
  // write's token is left untouched (fenced) and its id returned. What a committed
  // transition must tell the outside world (completion notifications, alerts) is queued in
  // the outbox in the same transaction (see outbox.h).
  virtual absl::StatusOr<std::vector<std::string>> CommitTransitions(
      const std::vector<TransitionWrite>& writes, const std::string& owner) = 0;
};

}  // namespace skald::store
