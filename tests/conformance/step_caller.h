// Calls a participant's skald.v1.Participant service the way the coordinator does: one
// StepCall per attempt, with a deadline, the idempotency key of (saga, step, phase), and the
// answer classified without interpretation, so that the conformance checks can say exactly
// what the participant replied.
#ifndef SKALD_TESTS_CONFORMANCE_STEP_CALLER_H_
#define SKALD_TESTS_CONFORMANCE_STEP_CALLER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "skald/v1/participant.grpc.pb.h"

namespace skald::conformance {

enum class Phase { kAction, kCompensation };

// One attempt of one phase of a step.
struct StepCallSpec {
  std::string saga_id;
  std::string step;
  Phase phase = Phase::kAction;
  std::string handler;
  int attempt = 1;
  nlohmann::json input = nlohmann::json::object();
  // The call's deadline, from when it is sent.
  absl::Duration timeout = absl::Seconds(10);
};

// What came back: a gRPC error, or a reply.
struct CallResult {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string status_message;
  v1::StepReply reply;

  bool success() const {
    return code == grpc::StatusCode::OK && reply.outcome() == v1::OUTCOME_SUCCESS;
  }
  bool retryable() const {
    return code == grpc::StatusCode::OK && reply.outcome() == v1::OUTCOME_RETRYABLE_ERROR;
  }
  bool business_failure() const {
    return code == grpc::StatusCode::OK && reply.outcome() == v1::OUTCOME_BUSINESS_FAILURE;
  }
  // The output of a success, parsed; null when it is not a success or not JSON.
  nlohmann::json output() const;
  // e.g. `success {"counter":"c","value":7}`, `business_failure failed_after_write: ...`,
  // `gRPC DEADLINE_EXCEEDED: Deadline Exceeded`.
  std::string Describe() const;
};

class StepCaller {
 public:
  // A plaintext channel to `address` ("host:port").
  explicit StepCaller(const std::string& address);

  // Sends one StepCall and waits for its answer (at most spec.timeout). Thread-safe.
  CallResult Call(const StepCallSpec& spec) const;

 private:
  std::unique_ptr<v1::Participant::Stub> stub_;
};

}  // namespace skald::conformance

#endif  // SKALD_TESTS_CONFORMANCE_STEP_CALLER_H_
