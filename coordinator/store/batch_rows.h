#pragma once

#include <optional>
#include <string>

#include "coordinator/core/definition.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/core/state_machine.h"
#include "nlohmann/json.hpp"

namespace skald::store {

// The rows CommitTransitions hands PostgreSQL's batch statements (jsonb_to_recordset), built
// once: PostgresSagaStore sends them, and the simulator's MemorySagaStore puts them through
// the same refusals jsonb applies, so both stores see exactly the same values.

// A time as milliseconds since the epoch; JSON null stands for SQL NULL.
nlohmann::json TimeValue(const std::optional<core::TimePoint>& time);

// The saga's row of kUpdateSagas: its new state, and the lease token that fences the write.
nlohmann::json SagaRow(const core::SagaState& after, int64_t lease_token);

// A changed step's row of kUpdateSteps.
nlohmann::json StepRow(const std::string& saga_id, int position, const core::StepState& step);

// A history event's row of kInsertEvents; `seq` orders the events of one batch.
nlohmann::json EventRow(int seq, const std::string& saga_id, const core::SagaDefinition& definition,
                        const core::HistoryEntry& entry);

// Text for a jsonb_to_recordset parameter. Invalid UTF-8 (say, in a participant's error
// message) is replaced rather than failing the whole batch.
std::string BatchParam(const nlohmann::json& rows);

}  // namespace skald::store
