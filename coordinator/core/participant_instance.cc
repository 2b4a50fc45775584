#include "coordinator/core/participant_instance.h"

#include <algorithm>

namespace skald::core {

bool ParticipantInstance::Serves(Phase phase, const std::string& handler) const {
  const std::vector<std::string>& handlers = phase == Phase::kAction ? actions : compensations;
  return std::find(handlers.begin(), handlers.end(), handler) != handlers.end();
}

}  // namespace skald::core
