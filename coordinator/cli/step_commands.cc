// `skald step complete | heartbeat | resolve`: long-running steps from the command line —
// a participant's (or a person's) completion of an accepted step, its heartbeat, and an
// operator's resolution of a waiting step.
#include <iostream>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/rpc_support.h"
#include "coordinator/cli/saga_printer.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::cli {
namespace {

// The result the flags describe; nullopt (after saying why) when they describe none or two.
std::optional<v1::StepReply> ResultOf(const StepResultFlags& flags) {
  const bool output = flags.output_json.has_value();
  const bool fail = flags.fail_code.has_value();
  if (output == fail) {
    std::cerr << "error: give exactly one of --output JSON (success) and --fail CODE\n";
    return std::nullopt;
  }
  if (output && (flags.retryable || !flags.message.empty())) {
    std::cerr << "error: --retryable and --message go with --fail, not --output\n";
    return std::nullopt;
  }
  v1::StepReply reply;
  if (output) {
    reply.set_outcome(v1::OUTCOME_SUCCESS);
    reply.set_output_json(*flags.output_json);
  } else {
    reply.set_outcome(flags.retryable ? v1::OUTCOME_RETRYABLE_ERROR : v1::OUTCOME_BUSINESS_FAILURE);
    reply.set_error_code(*flags.fail_code);
    reply.set_error_message(flags.message);
  }
  return reply;
}

// The coordinator waits up to 10 s for its engine to record what was sent.
void SetRecordingDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
}

}  // namespace

int CompleteStep(const ClientFlags& client, const std::string& token,
                 const StepResultFlags& flags) {
  std::optional<v1::StepReply> result = ResultOf(flags);
  if (!result) return kExitUsage;
  v1::CompleteStepRequest request;
  request.set_completion_token(token);
  *request.mutable_result() = *std::move(result);
  v1::CompleteStepResponse response;
  grpc::ClientContext context;
  SetRecordingDeadline(context);
  grpc::Status status = Connect(client)->CompleteStep(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    std::cout << nlohmann::json{{"saga_id", response.saga_id()},
                                {"step", response.step()},
                                {"already_completed", response.already_completed()}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "step " << response.step() << " of saga " << response.saga_id()
              << (response.already_completed() ? " was already completed with this result\n"
                                               : " completed\n");
  }
  return 0;
}

int HeartbeatStep(const ClientFlags& client, const std::string& token,
                  const std::string& details_json) {
  v1::HeartbeatRequest request;
  request.set_completion_token(token);
  request.set_details_json(details_json);
  v1::HeartbeatResponse response;
  grpc::ClientContext context;
  SetRecordingDeadline(context);
  grpc::Status status = Connect(client)->Heartbeat(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    std::cout << nlohmann::json{{"heartbeat_deadline", response.heartbeat_deadline()}}.dump(2)
              << "\n";
  } else {
    std::cout << "heartbeat recorded; the next must come before " << response.heartbeat_deadline()
              << "\n";
  }
  return 0;
}

int ResolveStep(const ClientFlags& client, const std::string& saga_id, const std::string& step,
                const OperatorFlags& operator_flags, const StepResultFlags& flags) {
  std::optional<v1::StepReply> result = ResultOf(flags);
  if (!result) return kExitUsage;
  v1::ResolveStepRequest request;
  request.set_saga_id(saga_id);
  request.set_step(step);
  request.set_operator_(operator_flags.operator_name);
  request.set_reason(operator_flags.reason);
  *request.mutable_result() = *std::move(result);
  v1::OperatorActionResponse response;
  grpc::ClientContext context;
  SetRecordingDeadline(context);
  grpc::Status status = Connect(client)->ResolveStep(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    std::cout << SagaToJson(response.saga()).dump(2) << "\n";
  } else {
    std::cout << "resolve recorded; saga " << saga_id << " is now "
              << StateName(response.saga().state()) << "\n\n";
    PrintSaga(response.saga(), std::cout);
  }
  return 0;
}

}  // namespace skald::cli
