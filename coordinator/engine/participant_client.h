#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "coordinator/engine/call_transport.h"
#include "grpcpp/grpcpp.h"
#include "skald/v1/participant.grpc.pb.h"

namespace skald::engine {

// Returns how the state machine must treat a participant's answer: the gRPC status and the
// reply's fields handed to core::ClassifyParticipantReply (see there), with an output limit
// of `max_output_bytes` (--max-output-bytes).
CallResult ClassifyReply(const std::string& address, const grpc::Status& status,
                         const v1::StepReply& reply, size_t max_output_bytes = 1 << 20);

// Calls participants over gRPC without blocking: each call returns at once and reports its
// result on one of gRPC's threads. One channel per participant address, reused. The call's
// traceparent also travels as gRPC metadata, for tracing middleware on the participant side.
class ParticipantClient : public CallTransport {
 public:
  // `credentials` secure every channel (TLS to participants); plaintext by default.
  // `on_output_too_large` (optional) is called, on a gRPC thread, for each success whose
  // output is over `max_output_bytes`.
  explicit ParticipantClient(
      std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials(),
      size_t max_output_bytes = 1 << 20, std::function<void()> on_output_too_large = nullptr)
      : credentials_(std::move(credentials)),
        max_output_bytes_(max_output_bytes),
        on_output_too_large_(std::move(on_output_too_large)) {}
  ~ParticipantClient() override;

  void Call(const std::string& address, const v1::StepCall& call, std::chrono::milliseconds timeout,
            std::function<void(CallResult)> done) override;
  void CancelAndDrain() override;
  size_t in_flight() const override;

 private:
  struct PendingCall;
  v1::Participant::Stub& StubFor(const std::string& address);

  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const size_t max_output_bytes_;
  const std::function<void()> on_output_too_large_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<v1::Participant::Stub>> stubs_;
  std::set<PendingCall*> in_flight_;
  std::condition_variable drained_;
};

}  // namespace skald::engine
