#include "coordinator/engine/participant_client.h"

#include "coordinator/core/bounded_json.h"
#include "coordinator/observability/logging.h"
#include "coordinator/observability/redaction.h"

namespace skald::engine {
namespace {

// Objects and arrays a step output may nest, like a definition or a saga input.
constexpr size_t kMaxOutputNesting = 64;

using core::AttemptOutcome;

bool IsTransient(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::CANCELLED:
      return true;
    default:
      return false;
  }
}

std::string Describe(const std::string& code, const std::string& message) {
  if (code.empty()) return message;
  if (message.empty()) return code;
  return code + ": " + message;
}

}  // namespace

CallResult ClassifyReply(const std::string& address, const grpc::Status& status,
                         const v1::StepReply& reply, size_t max_output_bytes) {
  if (!status.ok()) {
    const std::string error = "participant " + address + " call failed (gRPC code " +
                              std::to_string(status.error_code()) + "): " + status.error_message();
    return {IsTransient(status.error_code()) ? AttemptOutcome::kRetryableError
                                             : AttemptOutcome::kFailure,
            nullptr,
            error,
            "",
            status.error_code() == grpc::StatusCode::UNAVAILABLE,
            status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED};
  }
  switch (reply.outcome()) {
    case v1::OUTCOME_SUCCESS: {
      if (reply.output_json().empty()) {
        return {AttemptOutcome::kSuccess, nlohmann::json::object(), "", ""};
      }
      if (reply.output_json().size() > max_output_bytes) {
        return {AttemptOutcome::kRetryableError, nullptr,
                "participant " + address + " reported success with an output of " +
                    std::to_string(reply.output_json().size()) + " bytes, over the limit of " +
                    std::to_string(max_output_bytes) + " (--max-output-bytes)",
                ""};
      }
      // The same depth bound as definitions and saga inputs: outputs are copied and printed.
      auto output = core::ParseBoundedJson(reply.output_json(), kMaxOutputNesting);
      if (!output.ok() || !output->is_object()) {
        return {AttemptOutcome::kRetryableError, nullptr,
                "participant " + address + " reported success with an output that is not a " +
                    "JSON object" +
                    (output.ok() ? "" : " (" + std::string(output.status().message()) + ")"),
                ""};
      }
      return {AttemptOutcome::kSuccess, *std::move(output), "", ""};
    }
    case v1::OUTCOME_BUSINESS_FAILURE:
      return {AttemptOutcome::kFailure, nullptr,
              Describe(reply.error_code(), reply.error_message()), reply.error_code()};
    case v1::OUTCOME_RETRYABLE_ERROR:
      return {AttemptOutcome::kRetryableError, nullptr,
              Describe(reply.error_code(), reply.error_message()), reply.error_code()};
    default:
      return {AttemptOutcome::kRetryableError, nullptr,
              "participant " + address + " replied without an outcome", ""};
  }
}

struct ParticipantClient::PendingCall {
  grpc::ClientContext context;
  v1::StepCall request;
  v1::StepReply reply;
  std::string address;
  std::function<void(CallResult)> done;
};

ParticipantClient::~ParticipantClient() { CancelAndDrain(); }

v1::Participant::Stub& ParticipantClient::StubFor(const std::string& address) {
  // REQUIRES: mutex_ held.
  auto it = stubs_.find(address);
  if (it == stubs_.end()) {
    // Skald's retry policies decide when to try a participant again. gRPC's own reconnect
    // backoff (up to two minutes by default) would otherwise fail those attempts fast long
    // after the participant is back, so it is kept short. (The "min" reconnect argument is
    // really the connect timeout, so it keeps its default.)
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    auto channel = grpc::CreateCustomChannel(address, credentials_, arguments);
    it = stubs_.emplace(address, v1::Participant::NewStub(channel)).first;
  }
  return *it->second;
}

void ParticipantClient::Call(const std::string& address, const v1::StepCall& call,
                             std::chrono::milliseconds timeout,
                             std::function<void(CallResult)> done) {
  auto* pending = new PendingCall;
  pending->request = call;
  pending->address = address;
  pending->done = std::move(done);
  pending->context.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!call.traceparent().empty()) pending->context.AddMetadata("traceparent", call.traceparent());
  v1::Participant::Stub* stub;
  {
    std::lock_guard lock(mutex_);
    stub = &StubFor(address);
    in_flight_.insert(pending);
  }
  auto on_reply = [this, pending](grpc::Status status) {
    CallResult result = ClassifyReply(pending->address, status, pending->reply, max_output_bytes_);
    if (status.ok() && pending->reply.output_json().size() > max_output_bytes_ &&
        on_output_too_large_) {
      on_output_too_large_();
    }
    // Parsing the output again for the log costs only when debug lines are written.
    if (status.ok() && result.outcome == core::AttemptOutcome::kSuccess &&
        spdlog::default_logger_raw()->should_log(spdlog::level::debug)) {
      observability::LogAbout(
          {pending->request.saga_id(), pending->request.step(), pending->request.attempt()},
          spdlog::level::debug, "output {}",
          observability::RedactedPayload(pending->reply.output_json()));
    }
    pending->done(std::move(result));
    std::lock_guard lock(mutex_);
    in_flight_.erase(pending);
    delete pending;
    drained_.notify_all();
  };
  if (call.phase() == v1::PHASE_COMPENSATION) {
    stub->async()->ExecuteCompensation(&pending->context, &pending->request, &pending->reply,
                                       std::move(on_reply));
  } else {
    stub->async()->ExecuteAction(&pending->context, &pending->request, &pending->reply,
                                 std::move(on_reply));
  }
}

size_t ParticipantClient::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_.size();
}

void ParticipantClient::CancelAndDrain() {
  std::unique_lock lock(mutex_);
  for (PendingCall* pending : in_flight_) pending->context.TryCancel();
  drained_.wait(lock, [this] { return in_flight_.empty(); });
}

}  // namespace skald::engine
