#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/core/saga_state.h"

namespace skald::core {

// The fields of a W3C trace context header ("traceparent"), version 00, each lowercase hex.
struct TraceParentFields {
  std::string trace_id;  // 32 digits, not all zero
  std::string span_id;   // 16 digits, not all zero
  std::string flags;     // 2 digits; bit 0 is "sampled"
};

// Returns the fields of `text`, which must be "00-<trace id>-<span id>-<flags>" exactly;
// otherwise INVALID_ARGUMENT saying what is wrong, e.g. "trace id must not be all zero".
absl::StatusOr<TraceParentFields> ParseTraceParent(std::string_view text);

// Returns a new traceparent made of `random` bits: the trace id from the first two values,
// the span id from the third, flags 01 (sampled). A zero id is replaced by one, as W3C
// forbids all-zero ids. For sagas started without a traceparent.
std::string NewTraceParent(const std::array<uint64_t, 3>& random);

// Returns the traceparent of one attempt: the trace id and flags of the saga's stored
// `saga_traceparent`, and a span id derived from the saga id, step, phase and attempt (so a
// resent attempt has the same span, and a coordinator taking the saga over needs nothing
// more). Sagas stored before traceparents were kept have none (empty, or anything that does
// not parse): their trace id is derived from the saga id, flags 01, as before.
std::string TraceParent(std::string_view saga_traceparent, const std::string& saga_id,
                        const std::string& step, Phase phase, int attempt);

// The derived form alone: TraceParent("", saga_id, step, phase, attempt).
std::string TraceParent(const std::string& saga_id, const std::string& step, Phase phase,
                        int attempt);

// Returns the traceparent a saga is shown with: `stored` when it parses, otherwise (a saga
// stored before traceparents were kept) one with the trace id derived from the saga id, the
// span id derived from the saga id alone, and flags 01.
std::string SagaTraceParent(std::string_view stored, const std::string& saga_id);

}  // namespace skald::core
