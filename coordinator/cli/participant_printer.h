#pragma once

#include <ostream>

#include "nlohmann/json.hpp"
#include "skald/v1/registry.pb.h"

namespace skald::cli {

// Returns the instances as `skald participant list --json` prints them: an array of
// objects with every field of ParticipantInstance (empty fields left out).
nlohmann::json ParticipantsToJson(const v1::ListParticipantsReply& reply);

// Writes one block per service: its instances with address, health and expiry, then the
// handlers they serve; an explanatory line when there is none.
void PrintParticipants(const v1::ListParticipantsReply& reply, std::ostream& out);

}  // namespace skald::cli
