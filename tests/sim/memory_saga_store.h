#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/core/notification.h"
#include "coordinator/store/saga_store.h"

// The SagaStore of the simulator: everything PostgresSagaStore keeps, kept in memory, with
// the same lease, fencing, all-or-nothing and error semantics (tests/sim/
// saga_store_contract_pgtest.cc holds both stores to them), time from an injected clock, and
// faults injected at the caller's word. Nothing in it is random.
namespace skald::sim {

// Every call of store::SagaStore, so that a fault can name the one it hits.
enum class StoreOperation {
  kPutDefinition,
  kGetDefinition,
  kCreateSaga,
  kClaimSagas,
  kRenewLeases,
  kReclaimOwnLeases,
  kReleaseLeases,
  kTakeLease,
  kGetSaga,
  kDeleteFinishedSagas,
  kGetSagaOutcome,
  kListSagas,
  kCountSagas,
  kGetHistory,
  kActiveSagaIds,
  kCommitTransitions,
};
inline constexpr size_t kStoreOperationCount = 16;

// "CommitTransitions", "ClaimSagas", ...: the method's name.
std::string_view ToString(StoreOperation operation);

// One call, as a fault hook sees it before the call does anything.
struct StoreCall {
  StoreOperation operation = StoreOperation::kGetSaga;
  // The sagas the call names: the writes' saga ids, in order, for CommitTransitions; the
  // requested id for CreateSaga (none when one is to be generated); the id for GetSaga,
  // GetSagaOutcome, GetHistory and TakeLease; none otherwise.
  std::vector<std::string> saga_ids;
  // The coordinator making the call: the lease holder or owner for CreateSaga, ClaimSagas,
  // RenewLeases, ReclaimOwnLeases, ReleaseLeases, TakeLease and CommitTransitions; empty
  // otherwise.
  std::string owner;
};

// What an injected fault does to one call. The factories give each fault the status code
// and message PostgresSagaStore returns for it (ConnectionPool::Run's mapping of the
// SQLSTATE), so that the engine sees exactly what it would see in production.
struct StoreFault {
  // What the call returns instead of its result. Never OK.
  absl::Status status;
  // False: nothing of the call takes effect (the transaction rolled back). True: the call
  // takes effect completely, and then `status` is returned: its outcome is unknown to the
  // caller (the connection died during COMMIT).
  bool takes_effect = false;

  // The connection was lost before COMMIT (SQLSTATE 08006): UNAVAILABLE, nothing done.
  static StoreFault ConnectionLost(StoreOperation operation);
  // The connection was lost during COMMIT, after the server committed (libpqxx's
  // in_doubt_error, 08007): UNAVAILABLE, everything done. PostgreSQL can produce this for
  // every call that writes; for CreateSaga (one statement outside a transaction) libpqxx
  // reports it as a plain lost connection (08006), so the message is ConnectionLost's there.
  static StoreFault OutcomeUnknown(StoreOperation operation);
  // The database is read-only (25006, e.g. after a failover): UNAVAILABLE, nothing done.
  static StoreFault ReadOnly(StoreOperation operation);
  // The disk is full (53100): UNAVAILABLE, nothing done.
  static StoreFault DiskFull(StoreOperation operation);
  // A deadlock (40P01) or serialization failure: ABORTED, nothing done.
  static StoreFault Deadlock(StoreOperation operation);
  // A value the database refuses (class 22, e.g. 22P05 for a NUL character in JSON):
  // INVALID_ARGUMENT, nothing done. For CommitTransitions, RefuseWritesOf refuses batches
  // holding one saga's writes only, as PostgreSQL does (see there).
  static StoreFault RefusedValue(StoreOperation operation);
};

// Decides, before each call, whether a fault hits it: nullopt lets the call run.
using StoreFaultHook = std::function<std::optional<StoreFault>(const StoreCall& call)>;

struct MemorySagaStoreOptions {
  // The database's clock: lease grants and expiry, created_at, updated_at and history
  // times. Required. Read once per call (as now() is fixed per transaction), cut to
  // microseconds.
  std::function<core::TimePoint()> now;
  // Ids of sagas created without one. Default: a UUID's shape with a counter,
  // "00000000-0000-4000-8000-000000000001", ... (deterministic; PostgreSQL's are random).
  std::function<std::string()> new_saga_id;
  // The threshold of compensation-failure alerts, for the notices recorded (see
  // StoredSaga::notices).
  int alert_compensation_failures = 3;
};

// One saga with everything the store keeps of it, for the simulator's invariant checker.
struct StoredSaga {
  // As GetSaga returns it (state with steps, names, times, traceparent, callback URL).
  store::SagaRecord record;
  // The lease: its holder (nullopt when released), token and expiry (nullopt when
  // released).
  std::optional<std::string> owner;
  int64_t lease_token = 0;
  std::optional<core::TimePoint> lease_expires_at;
  core::TimePoint created_at;
  core::TimePoint updated_at;
  // Every event of its history, oldest first (ids increase across all sagas).
  std::vector<store::HistoryRecord> history;
  // What each committed transition had the outbox queue (core::NoticesOf), in commit order.
  // PostgreSQL also needs a URL to queue a row (the definition's notify URL, the saga's
  // callback URL, the alert URL) and keeps one compensation alert per step; these are
  // recorded whatever the URLs.
  std::vector<core::Notice> notices;
};

// See the top of this file. Thread-safe: one mutex guards everything; hooks and listeners
// are called without it held, and may call the store's inspection methods.
class MemorySagaStore final : public store::SagaStore {
 public:
  explicit MemorySagaStore(MemorySagaStoreOptions options);
  ~MemorySagaStore() override;
  MemorySagaStore(const MemorySagaStore&) = delete;
  MemorySagaStore& operator=(const MemorySagaStore&) = delete;

  // store::SagaStore: the contracts are in coordinator/store/saga_store.h.
  absl::StatusOr<bool> PutDefinition(const core::SagaDefinition& definition) override;
  absl::StatusOr<core::SagaDefinition> GetDefinition(const std::string& name, int version) override;
  absl::StatusOr<store::CreatedSaga> CreateSaga(
      const core::SagaDefinition& definition, const std::string& saga_id,
      const nlohmann::json& input, const store::LeaseHolder& holder,
      const store::SagaStartOptions& options = {}) override;
  // Each saga is one call of CreateSaga (a fault hits it as CreateSaga's): in PostgreSQL, too,
  // each gets what CreateSaga would answer, in order.
  std::vector<absl::StatusOr<store::CreatedSaga>> CreateSagas(
      const std::vector<store::SagaToCreate>& sagas, const store::LeaseHolder& holder) override;
  absl::StatusOr<std::vector<store::Lease>> ClaimSagas(const store::LeaseHolder& holder,
                                                       int limit) override;
  absl::StatusOr<std::vector<store::Lease>> RenewLeases(const store::LeaseHolder& holder) override;
  absl::StatusOr<std::vector<store::Lease>> ReclaimOwnLeases(
      const store::LeaseHolder& holder) override;
  absl::Status ReleaseLeases(const std::string& owner) override;
  absl::StatusOr<int64_t> TakeLease(const std::string& saga_id,
                                    const store::LeaseHolder& holder) override;
  absl::StatusOr<store::SagaRecord> GetSaga(const std::string& saga_id) override;
  absl::StatusOr<int> DeleteFinishedSagas(std::chrono::milliseconds age, int limit) override;
  absl::StatusOr<store::SagaOutcome> GetSagaOutcome(const std::string& saga_id) override;
  absl::StatusOr<store::SagaPage> ListSagas(const store::SagaFilter& filter) override;
  absl::StatusOr<std::map<core::SagaStatus, int64_t>> CountSagas(
      const std::optional<std::string>& definition_name) override;
  absl::StatusOr<std::vector<store::HistoryRecord>> GetHistory(const std::string& saga_id,
                                                               int64_t after_id,
                                                               int limit) override;
  absl::StatusOr<std::vector<std::string>> ActiveSagaIds() override;
  absl::StatusOr<std::vector<std::string>> CommitTransitions(
      const std::vector<store::TransitionWrite>& writes, const std::string& owner) override;

  // --- Faults (deterministic: the caller decides every one) ---

  // Makes the next call of `operation` fail with `fault` (one call per FailNext; queued in
  // order, consulted before the hook).
  void FailNext(StoreOperation operation, StoreFault fault);
  // Consulted before every call not already failed by FailNext or RefuseWritesOf; null
  // (the default) lets every call run.
  void SetFaultHook(StoreFaultHook hook);
  // Makes every CommitTransitions whose writes include `saga_id` fail with
  // StoreFault::RefusedValue, nothing committed, until AcceptWritesOf: what PostgreSQL does
  // when one saga's rows hold a value it refuses. The engine then commits the batch's sagas
  // one at a time, and only this one stays refused.
  void RefuseWritesOf(const std::string& saga_id);
  void AcceptWritesOf(const std::string& saga_id);

  // TEST ONLY, for the simulator's mutation check: when on, CommitTransitions writes every
  // existing saga whatever its lease (owner and token ignored), so a fenced-off coordinator's
  // stale writes land. Must make the simulator report a violation.
  void set_disable_fencing_for_mutation_test(bool disabled);

  // Called with the owner after each ReleaseLeases that took effect, as PostgreSQL's
  // NOTIFY skald_work tells every listening coordinator. Called on the caller's thread,
  // after the call's effects, before it returns.
  void SetReleaseListener(std::function<void(const std::string& owner)> listener);

  // --- Inspection, for the invariant checker (no faults, not counted, no paging) ---

  // Every saga, in creation order.
  std::vector<StoredSaga> Sagas() const;
  // One saga; nullopt when there is none (never created, or deleted by retention).
  std::optional<StoredSaga> Saga(const std::string& saga_id) const;
  // Every stored definition, by name and then version.
  std::vector<core::SagaDefinition> Definitions() const;
  // How many times `operation` was called, faulted calls included.
  int64_t Calls(StoreOperation operation) const;

 private:
  // One saga as the sagas, saga_steps and saga_events tables hold it.
  struct Row;

  // Counts the call and returns the fault that hits it, if any. Takes the mutex briefly;
  // calls the hook without it.
  std::optional<StoreFault> FaultFor(const StoreCall& call);
  core::TimePoint Now() const;
  // Extends every lease `holder` owns (RenewLeases), with new tokens (ReclaimOwnLeases).
  absl::StatusOr<std::vector<store::Lease>> ExtendOwnLeases(const store::LeaseHolder& holder,
                                                            StoreOperation operation,
                                                            bool new_tokens);
  // The saga as GetSaga returns it.
  static store::SagaRecord RecordOf(const Row& row);
  StoredSaga Inspect(const Row& row) const;

  const MemorySagaStoreOptions options_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, nlohmann::json> definitions_;
  std::map<std::string, std::unique_ptr<Row>> sagas_;
  uint64_t next_sequence_ = 1;
  int64_t next_event_id_ = 1;
  uint64_t generated_ids_ = 0;
  std::map<StoreOperation, std::deque<StoreFault>> fail_next_;
  std::set<std::string> refused_sagas_;
  StoreFaultHook hook_;
  std::function<void(const std::string&)> release_listener_;
  bool fencing_disabled_ = false;
  std::array<int64_t, kStoreOperationCount> calls_{};
};

}  // namespace skald::sim
