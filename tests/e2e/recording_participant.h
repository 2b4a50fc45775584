// A participant for tests of long-running steps: raw gRPC (skald.v1.Participant) in the
// test's own process, so that the test sees every call and its completion token.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "skald/v1/participant.grpc.pb.h"

namespace skald::testing {

// Serves skald.v1.Participant on loopback and remembers every call:
//   action "accept"        OUTCOME_ACCEPTED
//   action "flaky_accept"  attempt 1 a retryable error, later attempts OUTCOME_ACCEPTED
//   action "ok"            success {"ok": true}
//   compensation "undo"    success
class RecordingParticipant final : public v1::Participant::Service {
 public:
  RecordingParticipant() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~RecordingParticipant() override { server_->Shutdown(); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  grpc::Status ExecuteAction(grpc::ServerContext*, const v1::StepCall* call,
                             v1::StepReply* reply) override {
    Record(*call);
    if (call->handler() == "accept" || (call->handler() == "flaky_accept" && call->attempt() > 1)) {
      reply->set_outcome(v1::OUTCOME_ACCEPTED);
      ++accepted_;
    } else if (call->handler() == "flaky_accept") {
      reply->set_outcome(v1::OUTCOME_RETRYABLE_ERROR);
      reply->set_error_code("busy");
    } else {
      reply->set_outcome(v1::OUTCOME_SUCCESS);
      reply->set_output_json(R"({"ok": true})");
    }
    return grpc::Status::OK;
  }

  grpc::Status ExecuteCompensation(grpc::ServerContext*, const v1::StepCall* call,
                                   v1::StepReply* reply) override {
    Record(*call);
    reply->set_outcome(v1::OUTCOME_SUCCESS);
    return grpc::Status::OK;
  }

  // Waits up to 20 s for the call of `step`'s `phase` at `attempt` of saga `saga_id`.
  std::optional<v1::StepCall> WaitForCall(const std::string& saga_id, const std::string& step,
                                          v1::Phase phase, int attempt) {
    for (int i = 0; i < 400; ++i) {
      {
        std::lock_guard lock(mutex_);
        auto it = calls_.find({saga_id, step, phase, attempt});
        if (it != calls_.end()) return it->second;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }

  // How many calls were answered OUTCOME_ACCEPTED.
  int accepted() const { return accepted_.load(); }

  // How many calls of the step's phase arrived, every delivery counted (a resent attempt
  // too).
  int CallsOf(const std::string& saga_id, const std::string& step, v1::Phase phase) {
    std::lock_guard lock(mutex_);
    auto it = deliveries_.find({saga_id, step, phase});
    return it == deliveries_.end() ? 0 : it->second;
  }

 private:
  void Record(const v1::StepCall& call) {
    std::lock_guard lock(mutex_);
    calls_[{call.saga_id(), call.step(), call.phase(), call.attempt()}] = call;
    ++deliveries_[{call.saga_id(), call.step(), call.phase()}];
  }

  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::unique_ptr<grpc::Server> server_;
  std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, v1::Phase, int>, v1::StepCall> calls_;
  std::map<std::tuple<std::string, std::string, v1::Phase>, int> deliveries_;
};

}  // namespace skald::testing
