#pragma once

#include <chrono>

#include "coordinator/discovery/instance_directory.h"
#include "skald/v1/registry.grpc.pb.h"

namespace skald::api {

struct RegistryLimits {
  std::chrono::milliseconds default_ttl{10'000};
  std::chrono::milliseconds min_ttl{1'000};
  std::chrono::milliseconds max_ttl{300'000};
  size_t max_name_length = 100;
  size_t max_handlers = 200;
};

// Participant discovery (skald.v1.ParticipantRegistry): instances register, renew and
// deregister here; operators list them. Registrations go to the database, so that every
// coordinator on it routes to instances registered through any of them.
class RegistryServiceImpl final : public v1::ParticipantRegistry::Service {
 public:
  explicit RegistryServiceImpl(discovery::InstanceDirectory& directory, RegistryLimits limits = {})
      : directory_(directory), limits_(limits) {}

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterReply* reply) override;
  grpc::Status Deregister(grpc::ServerContext* context, const v1::DeregisterRequest* request,
                          v1::DeregisterReply* reply) override;
  grpc::Status ListParticipants(grpc::ServerContext* context,
                                const v1::ListParticipantsRequest* request,
                                v1::ListParticipantsReply* reply) override;

 private:
  discovery::InstanceDirectory& directory_;
  const RegistryLimits limits_;
};

}  // namespace skald::api
