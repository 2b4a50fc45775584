#include "coordinator/api/proto_mapping.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "coordinator/core/timestamp_text.h"
#include "coordinator/core/trace_context.h"

namespace skald::api {

using core::SagaStatus;
using core::StepStatus;

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string StatusCodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < static_cast<int>(std::size(kNames))
             ? kNames[index]
             : "CODE_" + std::to_string(index);
}

v1::SagaState ToWire(SagaStatus status) {
  switch (status) {
    case SagaStatus::kRunning:
      return v1::SAGA_STATE_RUNNING;
    case SagaStatus::kCompensating:
      return v1::SAGA_STATE_COMPENSATING;
    case SagaStatus::kCompleted:
      return v1::SAGA_STATE_COMPLETED;
    case SagaStatus::kCompensated:
      return v1::SAGA_STATE_COMPENSATED;
    case SagaStatus::kFailed:
      return v1::SAGA_STATE_FAILED;
  }
  return v1::SAGA_STATE_UNSPECIFIED;
}

v1::StepState ToWire(StepStatus status) {
  switch (status) {
    case StepStatus::kPending:
      return v1::STEP_STATE_PENDING;
    case StepStatus::kRunning:
      return v1::STEP_STATE_RUNNING;
    case StepStatus::kSucceeded:
      return v1::STEP_STATE_SUCCEEDED;
    case StepStatus::kFailed:
      return v1::STEP_STATE_FAILED;
    case StepStatus::kCompensating:
      return v1::STEP_STATE_COMPENSATING;
    case StepStatus::kCompensated:
      return v1::STEP_STATE_COMPENSATED;
    case StepStatus::kCompensationFailed:
      return v1::STEP_STATE_COMPENSATION_FAILED;
    case StepStatus::kSkipped:
      return v1::STEP_STATE_SKIPPED;
  }
  return v1::STEP_STATE_UNSPECIFIED;
}

v1::StepState ShownState(const core::StepState& step) {
  if (step.waiting) {
    return step.status == StepStatus::kCompensating ? v1::STEP_STATE_COMPENSATION_WAITING
                                                    : v1::STEP_STATE_WAITING;
  }
  return ToWire(step.status);
}

std::optional<SagaStatus> FromWire(v1::SagaState state) {
  switch (state) {
    case v1::SAGA_STATE_RUNNING:
      return SagaStatus::kRunning;
    case v1::SAGA_STATE_COMPENSATING:
      return SagaStatus::kCompensating;
    case v1::SAGA_STATE_COMPLETED:
      return SagaStatus::kCompleted;
    case v1::SAGA_STATE_COMPENSATED:
      return SagaStatus::kCompensated;
    case v1::SAGA_STATE_FAILED:
      return SagaStatus::kFailed;
    default:
      return std::nullopt;
  }
}

void ToWire(const store::SagaRecord& record, bool with_steps, v1::Saga& out) {
  out.set_id(record.state.id);
  out.set_definition(record.definition_name);
  out.set_definition_version(record.definition_version);
  out.set_state(ToWire(record.state.status));
  out.set_input_json(record.state.input.dump());
  out.set_error(record.state.error);
  out.set_created_at(record.created_at);
  out.set_updated_at(record.updated_at);
  if (!record.state.output.is_null()) out.set_output_json(record.state.output.dump());
  if (!with_steps) return;
  // Listings do not read it; a single saga shows its own, or the derived one of a saga stored
  // before traceparents were kept.
  out.set_traceparent(core::SagaTraceParent(record.traceparent, record.state.id));
  for (size_t i = 0; i < record.state.steps.size(); ++i) {
    const core::StepState& step = record.state.steps[i];
    v1::Step* wire = out.add_steps();
    wire->set_name(record.step_names[i]);
    wire->set_state(ShownState(step));
    if (step.waiting) {
      v1::WaitingStep* waiting = wire->mutable_waiting();
      waiting->set_since(core::Rfc3339Millis(step.waiting->since));
      waiting->set_deadline(core::Rfc3339Millis(step.waiting->deadline));
      if (step.waiting->last_heartbeat) {
        waiting->set_last_heartbeat_at(core::Rfc3339Millis(*step.waiting->last_heartbeat));
      }
      if (step.waiting->heartbeat_deadline) {
        waiting->set_heartbeat_deadline(core::Rfc3339Millis(*step.waiting->heartbeat_deadline));
      }
      if (!step.waiting->heartbeat_details.is_null()) {
        waiting->set_heartbeat_details_json(step.waiting->heartbeat_details.dump());
      }
    }
    wire->set_attempts(step.attempts);
    wire->set_compensation_attempts(step.compensation_attempts);
    if (!step.output.is_null()) wire->set_output_json(step.output.dump());
    // A step whose input is the saga's (the default template) refers to it instead of
    // repeating it: a 0.9 MB input and four steps made a response over the clients' limit.
    if (!step.input.is_null()) {
      if (step.input == record.state.input) {
        wire->set_input_is_saga_input(true);
      } else {
        wire->set_input_json(step.input.dump());
      }
    }
    wire->set_error(step.error);
  }
}

}  // namespace skald::api
