#pragma once

#include <chrono>
#include <cstddef>

#include "absl/status/status.h"
#include "coordinator/discovery/instance_directory.h"
#include "skald/v1/registry.pb.h"

namespace skald::api {

struct RegistryLimits {
  std::chrono::milliseconds default_ttl{10'000};
  std::chrono::milliseconds min_ttl{1'000};
  std::chrono::milliseconds max_ttl{300'000};
  size_t max_name_length = 100;
  size_t max_handlers = 200;
};

// What participant discovery does, independent of the transport and of who asks (that is
// GuardedOperations' business): instances register, renew and deregister; operators list
// them. Registrations go to the database through `directory`, so that every coordinator
// on it routes to instances registered through any of them. Each call validates its
// request (INVALID_ARGUMENT naming the field). Thread-safe.
class RegistryOperations {
 public:
  // `directory` must outlive this object.
  explicit RegistryOperations(discovery::InstanceDirectory& directory, RegistryLimits limits = {})
      : directory_(directory), limits_(limits) {}

  // Creates or renews a registration; `reply` gets the TTL granted and the renewal interval.
  absl::Status Register(const v1::RegisterRequest& request, v1::RegisterReply* reply);
  // Removes a registration; `reply` says whether it existed.
  absl::Status Deregister(const v1::DeregisterRequest& request, v1::DeregisterReply* reply);
  // One page of the live registrations (of request.service when set) with their health as
  // this coordinator saw it, by service and instance id.
  absl::Status ListParticipants(const v1::ListParticipantsRequest& request,
                                v1::ListParticipantsReply* reply) const;

 private:
  discovery::InstanceDirectory& directory_;
  const RegistryLimits limits_;
};

}  // namespace skald::api
