#include "coordinator/api/guarded_operations.h"

namespace skald::api {
namespace {

absl::Status NoRegistry() {
  return absl::UnimplementedError("participant discovery is not served here");
}

}  // namespace

absl::StatusOr<Caller> GuardedOperations::Authenticate(std::string_view authorization) const {
  if (!guard_) return Caller{"", {}, {}, /*unrestricted=*/true};
  return guard_->Authenticate(authorization);
}

absl::Status GuardedOperations::ApplyDefinition(const Caller& caller,
                                                const v1::ApplyDefinitionRequest& request,
                                                v1::ApplyDefinitionResponse* response) const {
  if (absl::Status s = Allowed([&](const AccessGuard& g) { return g.CheckApply(caller, request); });
      !s.ok()) {
    return s;
  }
  return operations_.ApplyDefinition(request, response);
}

absl::Status GuardedOperations::GetDefinition(const Caller& caller,
                                              const v1::GetDefinitionRequest& request,
                                              v1::GetDefinitionResponse* response) const {
  if (absl::Status s = Allowed([&](const AccessGuard& g) {
        return g.CheckReadDefinition(caller, request.name(), request.version());
      });
      !s.ok()) {
    return s;
  }
  return operations_.GetDefinition(request, response);
}

absl::Status GuardedOperations::StartSaga(const Caller& caller, const v1::StartSagaRequest& request,
                                          v1::StartSagaResponse* response) const {
  if (absl::Status s = Allowed([&](const AccessGuard& g) { return g.CheckStart(caller, request); });
      !s.ok()) {
    return s;
  }
  return operations_.StartSaga(request, response);
}

void GuardedOperations::StartSagaThen(const Caller& caller, const v1::StartSagaRequest& request,
                                      v1::StartSagaResponse* response,
                                      std::function<void(absl::Status)> done) const {
  if (absl::Status s = Allowed([&](const AccessGuard& g) { return g.CheckStart(caller, request); });
      !s.ok()) {
    return done(s);
  }
  operations_.StartSagaThen(request, response, std::move(done));
}

absl::Status GuardedOperations::GetSaga(const Caller& caller, const v1::GetSagaRequest& request,
                                        v1::GetSagaResponse* response) const {
  if (absl::Status s = CheckReadSaga(caller, request.saga_id()); !s.ok()) return s;
  return operations_.GetSaga(request, response);
}

absl::Status GuardedOperations::ListSagas(const Caller& caller, const v1::ListSagasRequest& request,
                                          v1::ListSagasResponse* response) const {
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckList(caller, request.definition()); });
      !s.ok()) {
    return s;
  }
  return operations_.ListSagas(request, response);
}

absl::Status GuardedOperations::CountSagas(const Caller& caller,
                                           const v1::CountSagasRequest& request,
                                           v1::CountSagasResponse* response) const {
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckList(caller, request.definition()); });
      !s.ok()) {
    return s;
  }
  return operations_.CountSagas(request, response);
}

absl::Status GuardedOperations::GetSagaHistory(const Caller& caller,
                                               const v1::GetSagaHistoryRequest& request,
                                               v1::GetSagaHistoryResponse* response) const {
  if (absl::Status s = CheckReadSaga(caller, request.saga_id()); !s.ok()) return s;
  return operations_.GetSagaHistory(request, response);
}

absl::Status GuardedOperations::AbortSaga(const Caller& caller, v1::OperatorActionRequest request,
                                          v1::OperatorActionResponse* response) const {
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckOperate(caller, request); });
      !s.ok()) {
    return s;
  }
  return operations_.AbortSaga(request, response);
}

absl::Status GuardedOperations::RetrySaga(const Caller& caller, v1::OperatorActionRequest request,
                                          v1::OperatorActionResponse* response) const {
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckOperate(caller, request); });
      !s.ok()) {
    return s;
  }
  return operations_.RetrySaga(request, response);
}

absl::Status GuardedOperations::SkipStep(const Caller& caller, v1::OperatorActionRequest request,
                                         v1::OperatorActionResponse* response) const {
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckOperate(caller, request); });
      !s.ok()) {
    return s;
  }
  return operations_.SkipStep(request, response);
}

absl::StatusOr<core::CompletionClaims> GuardedOperations::AllowedCompletion(
    const Caller& caller, std::string_view token) const {
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckComplete(caller, nullptr); });
      !s.ok()) {
    return s;
  }
  auto claims = operations_.OpenCompletionToken(token);
  if (!claims.ok()) return claims.status();
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckComplete(caller, &claims->saga_id); });
      !s.ok()) {
    return s;
  }
  return claims;
}

absl::Status GuardedOperations::CompleteStep(const Caller& caller,
                                             const v1::CompleteStepRequest& request,
                                             v1::CompleteStepResponse* response) const {
  auto claims = AllowedCompletion(caller, request.completion_token());
  if (!claims.ok()) return claims.status();
  return operations_.CompleteStep(*claims, request, response);
}

absl::Status GuardedOperations::Heartbeat(const Caller& caller, const v1::HeartbeatRequest& request,
                                          v1::HeartbeatResponse* response) const {
  auto claims = AllowedCompletion(caller, request.completion_token());
  if (!claims.ok()) return claims.status();
  return operations_.Heartbeat(*claims, request, response);
}

absl::Status GuardedOperations::ResolveStep(const Caller& caller, v1::ResolveStepRequest request,
                                            v1::OperatorActionResponse* response) const {
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckResolve(caller, request); });
      !s.ok()) {
    return s;
  }
  return operations_.ResolveStep(request, response);
}

absl::Status GuardedOperations::Register(const Caller& caller, const v1::RegisterRequest& request,
                                         v1::RegisterReply* reply) const {
  if (absl::Status s = Allowed([&](const AccessGuard& g) { return g.CheckRegister(caller); });
      !s.ok()) {
    return s;
  }
  if (!registry_) return NoRegistry();
  return registry_->Register(request, reply);
}

absl::Status GuardedOperations::Deregister(const Caller& caller,
                                           const v1::DeregisterRequest& request,
                                           v1::DeregisterReply* reply) const {
  if (absl::Status s = Allowed([&](const AccessGuard& g) { return g.CheckRegister(caller); });
      !s.ok()) {
    return s;
  }
  if (!registry_) return NoRegistry();
  return registry_->Deregister(request, reply);
}

absl::Status GuardedOperations::ListParticipants(const Caller& caller,
                                                 const v1::ListParticipantsRequest& request,
                                                 v1::ListParticipantsReply* reply) const {
  if (absl::Status s =
          Allowed([&](const AccessGuard& g) { return g.CheckListParticipants(caller); });
      !s.ok()) {
    return s;
  }
  if (!registry_) return NoRegistry();
  return registry_->ListParticipants(request, reply);
}

absl::Status GuardedOperations::CheckReadSaga(const Caller& caller,
                                              const std::string& saga_id) const {
  return Allowed([&](const AccessGuard& g) { return g.CheckReadSaga(caller, saga_id); });
}

}  // namespace skald::api
