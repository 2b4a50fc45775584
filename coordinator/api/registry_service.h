#pragma once

#include <chrono>

#include "coordinator/api/access_guard.h"
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
  // `guard` (optional) authenticates callers: Register and Deregister need the participant
  // role, ListParticipants any role. A call without a context (the HTTP API, which checks
  // first) is not checked.
  explicit RegistryServiceImpl(discovery::InstanceDirectory& directory, RegistryLimits limits = {},
                               const AccessGuard* guard = nullptr)
      : directory_(directory), limits_(limits), guard_(guard) {}

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterReply* reply) override;
  grpc::Status Deregister(grpc::ServerContext* context, const v1::DeregisterRequest* request,
                          v1::DeregisterReply* reply) override;
  grpc::Status ListParticipants(grpc::ServerContext* context,
                                const v1::ListParticipantsRequest* request,
                                v1::ListParticipantsReply* reply) override;

 private:
  // OK when the call's caller may do what `check` asks.
  absl::Status Allowed(const grpc::ServerContext* context,
                       absl::Status (AccessGuard::*check)(const Caller&) const) const;

  discovery::InstanceDirectory& directory_;
  const RegistryLimits limits_;
  const AccessGuard* const guard_;
};

}  // namespace skald::api
