#pragma once

#include <ostream>

#include "nlohmann/json.hpp"
#include "skald/v1/saga_service.pb.h"

namespace skald::cli {

// Returns the saga as the JSON object `skald saga get --json` prints: id, definition,
// version, state, error, input, created_at, updated_at and steps (name, state, attempts,
// compensation_attempts, output, error), with JSON payloads embedded as JSON.
nlohmann::json SagaToJson(const v1::Saga& saga);

// Writes the saga and its steps as a human-readable table.
void PrintSaga(const v1::Saga& saga, std::ostream& out);

// Writes one line per saga under a header.
void PrintSagaList(const v1::ListSagasResponse& page, std::ostream& out);

// "COMPLETED" for SAGA_STATE_COMPLETED, and so on.
std::string StateName(v1::SagaState state);
std::string StateName(v1::StepState state);

}  // namespace skald::cli
