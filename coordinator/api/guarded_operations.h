#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/api/access_guard.h"
#include "coordinator/api/authorizer.h"
#include "coordinator/api/registry_operations.h"
#include "coordinator/api/saga_operations.h"
#include "skald/v1/registry.pb.h"
#include "skald/v1/saga_service.pb.h"

namespace skald::api {

// Authenticate, check, call: the one place where the client API and participant discovery
// decide who may do what, for every transport. The gRPC services (saga_service.h,
// registry_service.h) and the JSON API (http/json_api.h) only parse requests and encode
// answers around these calls. Each call below first checks with the AccessGuard the
// permission its request needs (PERMISSION_DENIED, or NOT_FOUND for what the caller may not
// see) and then does the work. Thread-safe.
class GuardedOperations {
 public:
  // `guard` null: every caller is unrestricted (tests of a transport). `registry` null: the
  // participant calls answer UNIMPLEMENTED. All must outlive this object.
  GuardedOperations(SagaOperations& operations, RegistryOperations* registry,
                    const AccessGuard* guard)
      : operations_(operations), registry_(registry), guard_(guard) {}

  // The caller presenting `authorization` ("Bearer <token>", empty when absent):
  // UNAUTHENTICATED when auth is on and the token is missing or unknown.
  absl::StatusOr<Caller> Authenticate(std::string_view authorization) const;

  absl::Status ApplyDefinition(const Caller& caller, const v1::ApplyDefinitionRequest& request,
                               v1::ApplyDefinitionResponse* response) const;
  absl::Status GetDefinition(const Caller& caller, const v1::GetDefinitionRequest& request,
                             v1::GetDefinitionResponse* response) const;
  absl::Status StartSaga(const Caller& caller, const v1::StartSagaRequest& request,
                         v1::StartSagaResponse* response) const;
  // StartSaga without blocking the caller on the saga's commit: `done` runs once with what
  // StartSaga would return (see SagaOperations::StartSagaThen). REQUIRES: `request` and
  // `response` outlive that call.
  void StartSagaThen(const Caller& caller, const v1::StartSagaRequest& request,
                     v1::StartSagaResponse* response, std::function<void(absl::Status)> done) const;
  absl::Status GetSaga(const Caller& caller, const v1::GetSagaRequest& request,
                       v1::GetSagaResponse* response) const;
  absl::Status ListSagas(const Caller& caller, const v1::ListSagasRequest& request,
                         v1::ListSagasResponse* response) const;
  absl::Status CountSagas(const Caller& caller, const v1::CountSagasRequest& request,
                          v1::CountSagasResponse* response) const;
  absl::Status GetSagaHistory(const Caller& caller, const v1::GetSagaHistoryRequest& request,
                              v1::GetSagaHistoryResponse* response) const;
  // The operator actions record the caller's name with the operator text (AccessGuard::
  // CheckOperate), so they take the request by value.
  absl::Status AbortSaga(const Caller& caller, v1::OperatorActionRequest request,
                         v1::OperatorActionResponse* response) const;
  absl::Status RetrySaga(const Caller& caller, v1::OperatorActionRequest request,
                         v1::OperatorActionResponse* response) const;
  absl::Status SkipStep(const Caller& caller, v1::OperatorActionRequest request,
                        v1::OperatorActionResponse* response) const;

  // Long-running steps: the role is checked first, then the token opened (NOT_FOUND when
  // forged), then the namespace of the saga it names.
  absl::Status CompleteStep(const Caller& caller, const v1::CompleteStepRequest& request,
                            v1::CompleteStepResponse* response) const;
  absl::Status Heartbeat(const Caller& caller, const v1::HeartbeatRequest& request,
                         v1::HeartbeatResponse* response) const;
  absl::Status ResolveStep(const Caller& caller, v1::ResolveStepRequest request,
                           v1::OperatorActionResponse* response) const;

  absl::Status Register(const Caller& caller, const v1::RegisterRequest& request,
                        v1::RegisterReply* reply) const;
  absl::Status Deregister(const Caller& caller, const v1::DeregisterRequest& request,
                          v1::DeregisterReply* reply) const;
  absl::Status ListParticipants(const Caller& caller, const v1::ListParticipantsRequest& request,
                                v1::ListParticipantsReply* reply) const;

  // The check of the calls that wait or stream (AwaitSaga, WatchSaga), whose waiting the
  // transport does itself through read_operations() once this is OK.
  absl::Status CheckReadSaga(const Caller& caller, const std::string& saga_id) const;
  // The operations behind the checks, for the waiting of AwaitSaga and WatchSaga after
  // CheckReadSaga.
  SagaOperations& read_operations() const { return operations_; }

 private:
  // Runs `check` on the guard; OK without a guard.
  template <typename Check>
  absl::Status Allowed(Check check) const {
    return guard_ ? check(*guard_) : absl::OkStatus();
  }
  // The claims of a completion token, once the caller may complete steps at all and then
  // steps of the token's saga (its namespace is only known once the token is opened).
  absl::StatusOr<core::CompletionClaims> AllowedCompletion(const Caller& caller,
                                                           std::string_view token) const;

  SagaOperations& operations_;
  RegistryOperations* const registry_;
  const AccessGuard* const guard_;
};

}  // namespace skald::api
