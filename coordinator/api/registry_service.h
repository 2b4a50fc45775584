#pragma once

#include "coordinator/api/guarded_operations.h"
#include "skald/v1/registry.grpc.pb.h"

namespace skald::api {

// Participant discovery over gRPC (skald.v1.ParticipantRegistry), a thin adapter: each
// method hands the caller's "authorization" metadata and its request to GuardedOperations
// (Register and Deregister need the participant role, ListParticipants any role) and maps
// the status.
class RegistryServiceImpl final : public v1::ParticipantRegistry::Service {
 public:
  // `operations` must outlive this object.
  explicit RegistryServiceImpl(GuardedOperations& operations) : operations_(operations) {}

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterReply* reply) override;
  grpc::Status Deregister(grpc::ServerContext* context, const v1::DeregisterRequest* request,
                          v1::DeregisterReply* reply) override;
  grpc::Status ListParticipants(grpc::ServerContext* context,
                                const v1::ListParticipantsRequest* request,
                                v1::ListParticipantsReply* reply) override;

 private:
  GuardedOperations& operations_;
};

}  // namespace skald::api
