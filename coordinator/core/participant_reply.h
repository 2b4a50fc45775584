#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "coordinator/core/state_machine.h"
#include "nlohmann/json.hpp"

// The boundary where a participant's reply enters the coordinator: whatever a participant
// (or the network) sends, what comes out is something the state machine can decide on and
// PostgreSQL can store, bounded in size. A malformed reply is a retryable error of its
// attempt, so the step's retry policy applies and then compensation: it never becomes a
// transition the database refuses.
namespace skald::core {

// What one participant call came to, in the state machine's terms.
struct CallResult {
  AttemptOutcome outcome = AttemptOutcome::kSuccess;
  // For kSuccess: a JSON object that passes CheckStorableJson.
  nlohmann::json output{};
  // For errors: for people, storable (CheckStorableText), at most kMaxReplyErrorBytes.
  std::string error{};
  // The participant's own error code, when it answered with a storable one of at most
  // ReplyLimits::max_error_code_bytes.
  std::string error_code{};
  // The participant could not be reached or refused to take the call (gRPC UNAVAILABLE):
  // another instance of the same service may be tried at once.
  bool unreachable = false;
  // No answer within the attempt's timeout (gRPC DEADLINE_EXCEEDED).
  bool timed_out = false;
  // A success whose output was over ReplyLimits::max_output_bytes (counted at /metrics).
  bool output_too_large = false;
};

// The outcome values of skald.v1.Outcome (participant.proto), as numbers: a reply may carry
// any other value, which is malformed.
enum WireOutcome : int {
  kWireOutcomeUnspecified = 0,
  kWireOutcomeSuccess = 1,
  kWireOutcomeRetryableError = 2,
  kWireOutcomeBusinessFailure = 3,
  kWireOutcomeAccepted = 4,
};

// A participant's reply as plain fields, as they arrived (no gRPC or protobuf types).
struct ParticipantReply {
  // The call's transport status: gRPC's codes are absl's. When not OK, the fields below are
  // not read.
  absl::StatusCode status_code = absl::StatusCode::kOk;
  std::string_view status_message{};
  // A skald.v1.Outcome value, or anything else the participant sent.
  int outcome = kWireOutcomeUnspecified;
  std::string_view output_json{};
  std::string_view error_code{};
  std::string_view error_message{};
};

struct ReplyLimits {
  // --max-output-bytes: the raw output, and the output as it is stored.
  size_t max_output_bytes = 1 << 20;
  // Objects and arrays an output may nest, like a definition or a saga input.
  size_t max_output_nesting = 64;
  // Error codes are matched against retry policies and shown; longer ones are malformed.
  size_t max_error_code_bytes = 128;
  // Error and gRPC status messages are only shown: longer ones are cut to this.
  size_t max_error_message_bytes = 4096;
};

// Every CallResult::error is at most this long, whatever the limits: the longest message
// (cut), an error code, the participant's address (cut) and the words around them.
inline constexpr size_t kMaxReplyErrorBytes = 16 * 1024;

// Returns how the state machine must treat the reply of the participant at `address` (used
// in messages only):
// - a transport failure a retry may cure (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ...) is
//   a retryable error; one that will not change (UNIMPLEMENTED, INVALID_ARGUMENT, ...) a
//   failure; its message is made storable and cut;
// - a success carries its output, a JSON object; an output over the size limit (raw or as
//   stored), not JSON, nested too deep, not an object, or holding what PostgreSQL cannot
//   store (\u0000, in a value or a key) makes the attempt a retryable error, since the
//   participant may have applied the effect: when the attempts run out, the step is
//   compensated;
// - a business failure or a retryable error carries the participant's code and message; a
//   code that is not storable or over max_error_code_bytes makes the reply malformed (a
//   retryable error), while a message that is not storable is made storable (NUL bytes and
//   invalid UTF-8 become U+FFFD) and cut to max_error_message_bytes;
// - an acceptance (the participant completes the attempt later) is kAccepted; its output
//   is ignored;
// - no outcome, or an outcome this coordinator does not know, is a retryable error.
// Every error names the participant's address and the field at fault.
CallResult ClassifyParticipantReply(std::string_view address, const ParticipantReply& reply,
                                    const ReplyLimits& limits = {});

}  // namespace skald::core
