#pragma once

#include "absl/status/status.h"
#include "coordinator/core/saga_state.h"
#include "coordinator/store/saga_store.h"
#include "grpcpp/grpcpp.h"
#include "skald/v1/saga_service.pb.h"

namespace skald::api {

// absl and gRPC share their status codes, so the mapping keeps code and message as they are.
grpc::Status ToGrpc(const absl::Status& status);

// Returns the name of a gRPC status code as the gRPC docs spell it: "NOT_FOUND", ...
std::string StatusCodeName(grpc::StatusCode code);

v1::SagaState ToWire(core::SagaStatus status);
v1::StepState ToWire(core::StepStatus status);
// Returns nullopt for SAGA_STATE_UNSPECIFIED or an unknown value.
std::optional<core::SagaStatus> FromWire(v1::SagaState state);

// The wire state of a step: WAITING / COMPENSATION_WAITING while an accepted attempt waits.
v1::StepState ShownState(const core::StepState& step);

// Fills `out` from `record`; steps only when `with_steps`.
void ToWire(const store::SagaRecord& record, bool with_steps, v1::Saga& out);

}  // namespace skald::api
