#include "coordinator/core/participant_reply.h"

#include "coordinator/core/bounded_json.h"
#include "coordinator/core/storable_text.h"

namespace skald::core {
namespace {

// Addresses come from definitions and registrations; they are cut in messages all the same.
constexpr size_t kMaxAddressBytes = 256;

bool IsTransient(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

// Builds the results of one reply, naming its participant.
class Classifier {
 public:
  Classifier(std::string_view address, const ReplyLimits& limits)
      : participant_("participant " + StorableText(address, kMaxAddressBytes)), limits_(limits) {}

  CallResult Classify(const ParticipantReply& reply) {
    if (reply.status_code != absl::StatusCode::kOk) return TransportFailure(reply);
    switch (reply.outcome) {
      case kWireOutcomeSuccess:
        return Success(reply.output_json);
      case kWireOutcomeBusinessFailure:
        return ParticipantError(AttemptOutcome::kFailure, reply);
      case kWireOutcomeRetryableError:
        return ParticipantError(AttemptOutcome::kRetryableError, reply);
      case kWireOutcomeAccepted: {
        CallResult result;
        result.outcome = AttemptOutcome::kAccepted;
        return result;
      }
      case kWireOutcomeUnspecified:
        return Malformed("replied without an outcome");
      default:
        return Malformed("replied with an outcome this coordinator does not know (" +
                         std::to_string(reply.outcome) + ")");
    }
  }

 private:
  CallResult TransportFailure(const ParticipantReply& reply) const {
    CallResult result;
    result.outcome =
        IsTransient(reply.status_code) ? AttemptOutcome::kRetryableError : AttemptOutcome::kFailure;
    result.error = participant_ + " call failed (gRPC code " +
                   std::to_string(static_cast<int>(reply.status_code)) +
                   "): " + StorableText(reply.status_message, limits_.max_error_message_bytes);
    result.unreachable = reply.status_code == absl::StatusCode::kUnavailable;
    result.timed_out = reply.status_code == absl::StatusCode::kDeadlineExceeded;
    return result;
  }

  CallResult Success(std::string_view text) const {
    if (text.empty()) return Succeeded(nlohmann::json::object());
    const std::string reported = "reported success with an output ";
    if (text.size() > limits_.max_output_bytes) {
      CallResult result = Malformed(reported + "of " + std::to_string(text.size()) +
                                    " bytes, over the limit of " + Limit());
      result.output_too_large = true;
      return result;
    }
    auto output = ParseBoundedJson(text, limits_.max_output_nesting);
    if (!output.ok()) {
      return Malformed(reported + "that is not a JSON object (" +
                       StorableText(std::string(output.status().message()), 512) + ")");
    }
    if (!output->is_object()) return Malformed(reported + "that is not a JSON object");
    if (absl::Status storable = CheckStorableJson(*output, "output"); !storable.ok()) {
      return Malformed(reported + "that cannot be stored: " +
                       StorableText(std::string(storable.message()), 1024));
    }
    // Numbers may take more room once printed again ("1e14" is 100000000000000.0): the
    // limit holds for what is stored and sent on to later steps.
    if (const size_t stored = output->dump().size(); stored > limits_.max_output_bytes) {
      CallResult result = Malformed(reported + "of " + std::to_string(stored) +
                                    " bytes once stored, over the limit of " + Limit());
      result.output_too_large = true;
      return result;
    }
    return Succeeded(*std::move(output));
  }

  static CallResult Succeeded(nlohmann::json output) {
    CallResult result;
    result.outcome = AttemptOutcome::kSuccess;
    result.output = std::move(output);
    return result;
  }

  CallResult ParticipantError(AttemptOutcome outcome, const ParticipantReply& reply) const {
    if (reply.error_code.size() > limits_.max_error_code_bytes) {
      return Malformed(
          "replied with an error code of " + std::to_string(reply.error_code.size()) +
          " bytes, over the limit of " + std::to_string(limits_.max_error_code_bytes) +
          "; its message: " + StorableText(reply.error_message, limits_.max_error_message_bytes));
    }
    if (absl::Status storable = CheckStorableText(reply.error_code, "error code"); !storable.ok()) {
      return Malformed("replied with an " + std::string(storable.message()) + "; its message: " +
                       StorableText(reply.error_message, limits_.max_error_message_bytes));
    }
    CallResult result;
    result.outcome = outcome;
    result.error_code = std::string(reply.error_code);
    // The message is only shown: made storable and cut rather than refused.
    const std::string message = StorableText(reply.error_message, limits_.max_error_message_bytes);
    if (result.error_code.empty()) {
      result.error = message;
    } else if (message.empty()) {
      result.error = result.error_code;
    } else {
      result.error = result.error_code + ": " + message;
    }
    return result;
  }

  // A reply the coordinator cannot take as it is: a retryable error of the attempt.
  CallResult Malformed(const std::string& what) const {
    CallResult result;
    result.outcome = AttemptOutcome::kRetryableError;
    result.error = participant_ + " " + what;
    return result;
  }

  std::string Limit() const {
    return std::to_string(limits_.max_output_bytes) + " (--max-output-bytes)";
  }

  const std::string participant_;
  const ReplyLimits& limits_;
};

}  // namespace

CallResult ClassifyParticipantReply(std::string_view address, const ParticipantReply& reply,
                                    const ReplyLimits& limits) {
  CallResult result = Classifier(address, limits).Classify(reply);
  // The bound every caller relies on, whatever the limits (a defect guard, not a policy).
  if (result.error.size() > kMaxReplyErrorBytes) {
    result.error = StorableText(result.error, kMaxReplyErrorBytes - 64);
  }
  return result;
}

}  // namespace skald::core
