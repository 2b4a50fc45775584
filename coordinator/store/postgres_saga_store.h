#pragma once

#include "coordinator/store/connection.h"
#include "coordinator/store/outbox.h"
#include "coordinator/store/saga_store.h"

namespace skald::store {

// The SagaStore in PostgreSQL. Each call borrows a connection from the pool; every state
// write carries the writer's lease token, so a fenced coordinator's commit changes nothing.
class PostgresSagaStore final : public SagaStore {
 public:
  // `outbox` says which alerts CommitTransitions queues besides completion notifications.
  explicit PostgresSagaStore(ConnectionPool& pool, OutboxPolicy outbox = {})
      : pool_(pool), outbox_(std::move(outbox)) {}

  absl::StatusOr<bool> PutDefinition(const core::SagaDefinition& definition) override;
  absl::StatusOr<core::SagaDefinition> GetDefinition(const std::string& name, int version) override;
  absl::StatusOr<CreatedSaga> CreateSaga(const core::SagaDefinition& definition,
                                         const std::string& saga_id, const nlohmann::json& input,
                                         const LeaseHolder& holder,
                                         const SagaStartOptions& options = {}) override;
  std::vector<absl::StatusOr<CreatedSaga>> CreateSagas(const std::vector<SagaToCreate>& sagas,
                                                       const LeaseHolder& holder) override;
  absl::StatusOr<std::vector<Lease>> ClaimSagas(const LeaseHolder& holder, int limit) override;
  absl::StatusOr<std::vector<Lease>> RenewLeases(const LeaseHolder& holder) override;
  absl::StatusOr<std::vector<Lease>> ReclaimOwnLeases(const LeaseHolder& holder) override;
  absl::Status ReleaseLeases(const std::string& owner) override;
  absl::StatusOr<int64_t> TakeLease(const std::string& saga_id, const LeaseHolder& holder) override;
  absl::StatusOr<SagaRecord> GetSaga(const std::string& saga_id) override;
  absl::StatusOr<int> DeleteFinishedSagas(std::chrono::milliseconds age, int limit) override;
  absl::StatusOr<SagaOutcome> GetSagaOutcome(const std::string& saga_id) override;
  absl::StatusOr<SagaPage> ListSagas(const SagaFilter& filter) override;
  absl::StatusOr<std::map<core::SagaStatus, int64_t>> CountSagas(
      const std::optional<std::string>& definition_name) override;
  absl::StatusOr<std::vector<HistoryRecord>> GetHistory(const std::string& saga_id,
                                                        int64_t after_id, int limit) override;
  absl::StatusOr<std::vector<std::string>> ActiveSagaIds() override;
  absl::StatusOr<std::vector<std::string>> CommitTransitions(
      const std::vector<TransitionWrite>& writes, const std::string& owner) override;

 private:
  // Runs a lease statement taking (owner, ttl ms) and returning (id, token) rows.
  absl::StatusOr<std::vector<Lease>> UpdateLeases(std::string_view statement,
                                                  const LeaseHolder& holder);

  ConnectionPool& pool_;
  const OutboxPolicy outbox_;
};

}  // namespace skald::store
