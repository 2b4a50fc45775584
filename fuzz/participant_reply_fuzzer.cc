// Fuzzes ClassifyParticipantReply (coordinator/core/participant_reply.h), the boundary where
// every participant reply enters the coordinator. Whatever the reply, what comes out must be
// storable in PostgreSQL (no NUL, valid UTF-8, no \u0000 in JSON) and bounded in size:
// otherwise the batch commit fails and the saga's transition is lost.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "coordinator/core/participant_reply.h"
#include "coordinator/core/storable_text.h"
#include "fuzz/fuzz_check.h"

namespace {

using skald::core::AttemptOutcome;
using skald::core::CallResult;
using skald::core::ParticipantReply;

// Takes the next field: up to the next 0xFF 0xFE separator (so fields may hold any byte,
// NUL included), or the rest.
std::string_view NextField(std::string_view& rest) {
  const size_t end = rest.find("\xFF\xFE");
  std::string_view field = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
  return field;
}

}  // namespace

// Input: one byte of status code (0 = OK), one byte of outcome (values past 4 are unknown
// outcomes, 255 is -1), then output JSON, error code, error message and status message
// separated by 0xFF 0xFE.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  ParticipantReply reply;
  reply.status_code = static_cast<absl::StatusCode>(data[0] % 17);
  reply.outcome = data[1] == 255 ? -1 : data[1];
  reply.output_json = NextField(rest);
  reply.error_code = NextField(rest);
  reply.error_message = NextField(rest);
  reply.status_message = NextField(rest);

  // Small limits, so that the fuzzer reaches them with small inputs.
  skald::core::ReplyLimits limits;
  limits.max_output_bytes = 512;
  limits.max_output_nesting = 8;
  limits.max_error_code_bytes = 16;
  limits.max_error_message_bytes = 64;
  const CallResult result = skald::core::ClassifyParticipantReply("p\0:1", reply, limits);

  FUZZ_CHECK(skald::core::CheckStorableText(result.error, "error").ok(), "error not storable");
  FUZZ_CHECK(skald::core::CheckStorableText(result.error_code, "code").ok(), "code not storable");
  FUZZ_CHECK(result.error_code.size() <= limits.max_error_code_bytes, "error code too long");
  // The message cut to its limit, the address cut to 256 bytes, a refusal cut to 1 KiB and
  // the words around them: far less than the 3 MB a participant may send.
  FUZZ_CHECK(result.error.size() <= 2048, "error too long");
  if (result.outcome == AttemptOutcome::kSuccess) {
    FUZZ_CHECK(reply.status_code == absl::StatusCode::kOk, "a failed call succeeded");
    FUZZ_CHECK(result.output.is_object(), "success without an object");
    FUZZ_CHECK(skald::core::CheckStorableJson(result.output, "output").ok(), "output not storable");
    FUZZ_CHECK(result.output.dump().size() <= limits.max_output_bytes, "output too large");
    FUZZ_CHECK(result.error.empty(), "success with an error");
  } else if (result.outcome == AttemptOutcome::kAccepted) {
    // Issue 17: an acceptance carries nothing; the attempt is completed later.
    FUZZ_CHECK(reply.status_code == absl::StatusCode::kOk, "a failed call was accepted");
    FUZZ_CHECK(reply.outcome == skald::core::kWireOutcomeAccepted, "accepted without asking");
    FUZZ_CHECK(result.output.is_null() && result.error.empty(), "an acceptance with a payload");
  } else {
    FUZZ_CHECK(result.output.is_null(), "an error with an output");
    FUZZ_CHECK(!result.error.empty() || reply.outcome == skald::core::kWireOutcomeRetryableError ||
                   reply.outcome == skald::core::kWireOutcomeBusinessFailure,
               "a malformed reply without a message");
  }
  return 0;
}
