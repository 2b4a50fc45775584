#include "coordinator/api/registry_service.h"

#include "coordinator/api/proto_mapping.h"

namespace skald::api {
namespace {

// Answers a call: its caller authenticated, then `call(caller)` (the check and the work, in
// GuardedOperations).
template <typename Call>
grpc::Status Answer(const GuardedOperations& operations, const grpc::ServerContext* context,
                    Call call) {
  absl::StatusOr<Caller> caller = operations.Authenticate(context ? AuthorizationOf(*context) : "");
  if (!caller.ok()) return ToGrpc(caller.status());
  return ToGrpc(call(*caller));
}

}  // namespace

grpc::Status RegistryServiceImpl::Register(grpc::ServerContext* context,
                                           const v1::RegisterRequest* request,
                                           v1::RegisterReply* reply) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.Register(caller, *request, reply);
  });
}

grpc::Status RegistryServiceImpl::Deregister(grpc::ServerContext* context,
                                             const v1::DeregisterRequest* request,
                                             v1::DeregisterReply* reply) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.Deregister(caller, *request, reply);
  });
}

grpc::Status RegistryServiceImpl::ListParticipants(grpc::ServerContext* context,
                                                   const v1::ListParticipantsRequest* request,
                                                   v1::ListParticipantsReply* reply) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.ListParticipants(caller, *request, reply);
  });
}

}  // namespace skald::api
