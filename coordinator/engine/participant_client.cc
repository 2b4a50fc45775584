#include "coordinator/engine/participant_client.h"

#include "coordinator/observability/logging.h"
#include "coordinator/observability/redaction.h"

namespace skald::engine {
// The core reads outcomes as the wire's numbers.
static_assert(int{core::kWireOutcomeSuccess} == int{v1::OUTCOME_SUCCESS} &&
              int{core::kWireOutcomeRetryableError} == int{v1::OUTCOME_RETRYABLE_ERROR} &&
              int{core::kWireOutcomeBusinessFailure} == int{v1::OUTCOME_BUSINESS_FAILURE} &&
              int{core::kWireOutcomeUnspecified} == int{v1::OUTCOME_UNSPECIFIED});

CallResult ClassifyReply(const std::string& address, const grpc::Status& status,
                         const v1::StepReply& reply, size_t max_output_bytes) {
  core::ReplyLimits limits;
  limits.max_output_bytes = max_output_bytes;
  // gRPC's status codes are absl's, number for number.
  return core::ClassifyParticipantReply(
      address,
      {static_cast<absl::StatusCode>(status.error_code()), status.error_message(),
       static_cast<int>(reply.outcome()), reply.output_json(), reply.error_code(),
       reply.error_message()},
      limits);
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
    if (result.output_too_large && on_output_too_large_) {
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
