#pragma once

#include <string>

#include "coordinator/core/saga_state.h"

namespace skald::core {

// Returns the W3C trace context ("traceparent") of one attempt: version 00, a trace id
// derived from the saga id (every call of a saga shares one trace), a span id derived from
// the step, phase and attempt, and the sampled flag. Derived rather than random so that a
// coordinator that takes a saga over continues the same trace without storing anything.
std::string TraceParent(const std::string& saga_id, const std::string& step, Phase phase,
                        int attempt);

}  // namespace skald::core
