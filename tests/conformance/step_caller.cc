#include "tests/conformance/step_caller.h"

#include <chrono>

namespace skald::conformance {
namespace {

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "code " + std::to_string(static_cast<int>(code));
  }
}

}  // namespace

nlohmann::json CallResult::output() const {
  if (!success()) return nullptr;
  return nlohmann::json::parse(reply.output_json(), nullptr, /*allow_exceptions=*/false);
}

std::string CallResult::Describe() const {
  if (code != grpc::StatusCode::OK) return "gRPC " + CodeName(code) + ": " + status_message;
  switch (reply.outcome()) {
    case v1::OUTCOME_SUCCESS:
      return "success " + reply.output_json();
    case v1::OUTCOME_RETRYABLE_ERROR:
      return "retryable " + reply.error_code() + ": " + reply.error_message();
    case v1::OUTCOME_BUSINESS_FAILURE:
      return "business_failure " + reply.error_code() + ": " + reply.error_message();
    default:
      return "outcome " + std::to_string(reply.outcome());
  }
}

StepCaller::StepCaller(const std::string& address)
    : stub_(v1::Participant::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}

CallResult StepCaller::Call(const StepCallSpec& spec) const {
  const bool action = spec.phase == Phase::kAction;
  v1::StepCall call;
  call.set_saga_id(spec.saga_id);
  call.set_step(spec.step);
  call.set_phase(action ? v1::PHASE_ACTION : v1::PHASE_COMPENSATION);
  call.set_handler(spec.handler);
  call.set_attempt(spec.attempt);
  call.set_idempotency_key(spec.saga_id + "/" + spec.step + (action ? "/action" : "/compensation"));
  call.set_input_json(spec.input.dump());

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(spec.timeout));
  CallResult result;
  const grpc::Status status = action ? stub_->ExecuteAction(&context, call, &result.reply)
                                     : stub_->ExecuteCompensation(&context, call, &result.reply);
  result.code = status.error_code();
  result.status_message = status.error_message();
  return result;
}

}  // namespace skald::conformance
