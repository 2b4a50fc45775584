#pragma once

#include <string>
#include <vector>

#include "coordinator/core/saga_state.h"

namespace skald::core {

// One running instance of a participant service, as it registered itself.
struct ParticipantInstance {
  std::string service;
  std::string instance_id;
  // "host:port" the coordinator calls it on.
  std::string address;
  std::vector<std::string> actions;
  std::vector<std::string> compensations;
  TimePoint registered_at;
  TimePoint renewed_at;
  TimePoint expires_at;

  // Returns whether the instance registered `handler` for `phase`.
  bool Serves(Phase phase, const std::string& handler) const;
};

}  // namespace skald::core
