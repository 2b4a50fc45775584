#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/core/state_machine.h"
#include "coordinator/store/connection.h"

namespace skald::store {

// A saga as the API shows it.
struct SagaRecord {
  core::SagaState state;
  std::string definition_name;
  int definition_version = 0;
  std::vector<std::string> step_names;
  std::string created_at;  // RFC 3339, UTC
  std::string updated_at;
};

struct SagaFilter {
  std::optional<core::SagaStatus> status;
  std::optional<std::string> definition_name;
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
};

// One saga's committed transition, as the engine hands it to the store.
struct TransitionWrite {
  const core::SagaState* before;
  const core::Transition* transition;
  const core::SagaDefinition* definition;
};

// Reads and writes definitions and sagas in PostgreSQL. Thread-safe: each call borrows a
// connection from the pool. Errors: UNAVAILABLE when the database cannot be reached,
// NOT_FOUND / ALREADY_EXISTS as documented per call, INTERNAL for anything unexpected.
class SagaStore {
 public:
  explicit SagaStore(ConnectionPool& pool) : pool_(pool) {}

  // Stores `definition`. Returns true when stored now, false when the same name and version
  // was already stored with an identical document; ALREADY_EXISTS when it was stored with a
  // different one (versions are immutable once applied).
  absl::StatusOr<bool> PutDefinition(const core::SagaDefinition& definition);

  // Returns definition `name` at `version`, or at its highest version when `version` is 0.
  // NOT_FOUND when there is none.
  absl::StatusOr<core::SagaDefinition> GetDefinition(const std::string& name, int version);

  // Creates a saga of `definition` with `input`, its steps PENDING, and records its
  // creation in the history, in one transaction. An empty `saga_id` gets a fresh UUID.
  // When `saga_id` names an existing saga of the same definition, returns it with
  // created=false; of another definition, ALREADY_EXISTS.
  absl::StatusOr<CreatedSaga> CreateSaga(const core::SagaDefinition& definition,
                                         const std::string& saga_id,
                                         const nlohmann::json& input);

  // Returns the saga with its steps; NOT_FOUND when there is none.
  absl::StatusOr<SagaRecord> GetSaga(const std::string& saga_id);

  // Returns one page of sagas matching `filter`; INVALID_ARGUMENT for a bad page token.
  absl::StatusOr<SagaPage> ListSagas(const SagaFilter& filter);

  // Returns the ids of every saga not in a terminal state, oldest first.
  absl::StatusOr<std::vector<std::string>> ActiveSagaIds();

  // Commits the new state and history of every saga in `writes` in one transaction: all
  // or none of them take effect.
  absl::Status CommitTransitions(const std::vector<TransitionWrite>& writes);

 private:
  ConnectionPool& pool_;
};

}  // namespace skald::store
