#include "skald/step_completer.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "absl/time/time.h"
#include "coordinator_channel.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald {
namespace {

using Clock = std::chrono::system_clock;

// Codes a later try may not get: the coordinator was unreachable, overloaded, restarting or
// lost a race. Every other refusal is the coordinator's final word on this request.
bool IsTransient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::ABORTED;
}

std::string Dump(const nlohmann::json& value) {
  // Replacing invalid UTF-8 keeps a bad string from throwing here.
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status CheckToken(std::string_view method, std::string_view token) {
  if (token.empty()) {
    return absl::InvalidArgumentError(std::string(method) + ": the completion token is empty");
  }
  if (token.size() > kMaxCompletionTokenLength) {
    return absl::InvalidArgumentError(std::string(method) + ": the completion token is " +
                                      std::to_string(token.size()) + " bytes, longer than " +
                                      std::to_string(kMaxCompletionTokenLength));
  }
  return absl::OkStatus();
}

// Returns `time` read as RFC 3339, or time_point::max() when it is empty or unreadable.
Clock::time_point ParseDeadline(const std::string& text) {
  absl::Time time;
  std::string problem;
  if (text.empty() || !absl::ParseTime(absl::RFC3339_full, text, &time, &problem)) {
    return Clock::time_point::max();
  }
  return absl::ToChronoTime(time);
}

class StepCompleterImpl final : public StepCompleter {
 public:
  StepCompleterImpl(CoordinatorEndpoint endpoint, StepCompleterOptions options,
                    std::shared_ptr<grpc::Channel> channel)
      : endpoint_(std::move(endpoint)),
        options_(options),
        stub_(v1::SagaService::NewStub(std::move(channel))) {}

  absl::StatusOr<CompletionReceipt> Complete(std::string_view token,
                                             const nlohmann::json& output) override {
    // `{}` in a call is a JSON null: read as the empty object it was meant to be.
    if (!output.is_object() && !output.is_null()) {
      return absl::InvalidArgumentError("Complete: the output must be a JSON object, got " +
                                        std::string(output.type_name()));
    }
    v1::StepReply result;
    result.set_outcome(v1::OUTCOME_SUCCESS);
    result.set_output_json(output.is_null() ? "{}" : Dump(output));
    return Send(token, std::move(result));
  }

  absl::StatusOr<CompletionReceipt> Fail(std::string_view token, std::string_view code,
                                         std::string_view message) override {
    v1::StepReply result;
    result.set_outcome(v1::OUTCOME_BUSINESS_FAILURE);
    result.set_error_code(code.empty() ? "business_failure" : std::string(code));
    result.set_error_message(std::string(message));
    return Send(token, std::move(result));
  }

  absl::StatusOr<CompletionReceipt> Retry(std::string_view token, std::string_view code,
                                          std::string_view message) override {
    v1::StepReply result;
    result.set_outcome(v1::OUTCOME_RETRYABLE_ERROR);
    result.set_error_code(std::string(code));
    result.set_error_message(std::string(message));
    return Send(token, std::move(result));
  }

  absl::StatusOr<Clock::time_point> Heartbeat(std::string_view token,
                                              const nlohmann::json& details) override {
    if (absl::Status valid = CheckToken("Heartbeat", token); !valid.ok()) return valid;
    if (!details.is_object() && !details.is_null()) {
      return absl::InvalidArgumentError("Heartbeat: the details must be a JSON object, got " +
                                        std::string(details.type_name()));
    }
    v1::HeartbeatRequest request;
    request.set_completion_token(std::string(token));
    request.set_details_json(details.is_null() ? "{}" : Dump(details));
    v1::HeartbeatResponse response;
    absl::Status sent = CallWithRetries("Heartbeat", [&](grpc::ClientContext* context) {
      return stub_->Heartbeat(context, request, &response);
    });
    if (!sent.ok()) return sent;
    return ParseDeadline(response.heartbeat_deadline());
  }

 private:
  absl::StatusOr<CompletionReceipt> Send(std::string_view token, v1::StepReply result) {
    if (absl::Status valid = CheckToken("CompleteStep", token); !valid.ok()) return valid;
    v1::CompleteStepRequest request;
    request.set_completion_token(std::string(token));
    *request.mutable_result() = std::move(result);
    v1::CompleteStepResponse response;
    absl::Status sent = CallWithRetries("CompleteStep", [&](grpc::ClientContext* context) {
      return stub_->CompleteStep(context, request, &response);
    });
    if (!sent.ok()) return sent;
    return CompletionReceipt{.saga_id = response.saga_id(),
                             .step = response.step(),
                             .already_completed = response.already_completed()};
  }

  // Calls `call` until it succeeds, fails with a code that is not transient, or
  // options_.total_deadline passes; each try bounded by options_.try_deadline.
  absl::Status CallWithRetries(std::string_view method,
                               const std::function<grpc::Status(grpc::ClientContext*)>& call) {
    const Clock::time_point give_up = Clock::now() + options_.total_deadline;
    std::chrono::milliseconds backoff = options_.initial_backoff;
    for (int tries = 1;; ++tries) {
      grpc::ClientContext context;
      context.set_deadline(std::min(give_up, Clock::now() + options_.try_deadline));
      AuthorizeCall(context, endpoint_);
      const grpc::Status status = call(&context);
      if (status.ok()) return absl::OkStatus();
      const std::string what = std::string(method) + " to coordinator " + endpoint_.address;
      if (!IsTransient(status.error_code())) {
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            what + " refused: " + status.error_message());
      }
      if (Clock::now() + backoff >= give_up) {
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            what + " failed " + std::to_string(tries) + " time(s) within " +
                                std::to_string(options_.total_deadline.count()) +
                                " ms, last: " + status.error_message());
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(2 * backoff, options_.max_backoff);
    }
  }

  const CoordinatorEndpoint endpoint_;
  const StepCompleterOptions options_;
  const std::unique_ptr<v1::SagaService::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StepCompleter>> StepCompleter::Create(CoordinatorEndpoint endpoint,
                                                                     StepCompleterOptions options) {
  using std::chrono::milliseconds;
  if (options.try_deadline <= milliseconds(0) || options.total_deadline <= milliseconds(0) ||
      options.initial_backoff <= milliseconds(0) || options.max_backoff <= milliseconds(0)) {
    return absl::InvalidArgumentError(
        "StepCompleterOptions: every deadline and backoff must be positive");
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewCoordinatorChannel(endpoint);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<StepCompleter>(
      new StepCompleterImpl(std::move(endpoint), options, *std::move(channel)));
}

}  // namespace skald
