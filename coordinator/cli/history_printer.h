#pragma once

#include <ostream>

#include "nlohmann/json.hpp"
#include "skald/v1/saga_service.pb.h"

namespace skald::cli {

// Returns the event as `skald saga history --json` prints it: id, at, type, step, phase,
// attempt and detail (a JSON object), empty step and phase left out.
nlohmann::json EventToJson(const v1::SagaEvent& event);

// Writes the header of the history table.
void PrintHistoryHeader(std::ostream& out);

// Writes one event as a row of the history table: time, event, step, phase, attempt and the
// detail's fields as key=value.
void PrintHistoryRow(const v1::SagaEvent& event, std::ostream& out);

}  // namespace skald::cli
