#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/core/participant_instance.h"
#include "coordinator/store/connection.h"
#include "coordinator/store/registration_limits.h"

namespace skald::store {

// Participant registrations in the coordinator's database (table participant_instances),
// shared by every coordinator on it. Expiry is decided by the database's clock.
class RegistryStore {
 public:
  explicit RegistryStore(ConnectionPool& pool, RegistrationLimits limits = {})
      : pool_(pool), limits_(limits) {}

  // Creates or renews the registration of (instance.service, instance.instance_id) with
  // the instance's address and handlers, valid for `ttl` from now. The instance's times are
  // ignored. A new registration over the limits (live ones of its service, or in all) is
  // RESOURCE_EXHAUSTED naming the limit; renewals always pass.
  absl::Status Register(const core::ParticipantInstance& instance, std::chrono::milliseconds ttl);

  // Removes a registration; returns whether it existed.
  absl::StatusOr<bool> Deregister(const std::string& service, const std::string& instance_id);

  // Returns the registrations not yet expired, by service, address and instance id.
  absl::StatusOr<std::vector<core::ParticipantInstance>> LiveInstances();

 private:
  ConnectionPool& pool_;
  const RegistrationLimits limits_;
};

}  // namespace skald::store
