#include "coordinator/store/registry_store.h"

#include <pqxx/pqxx>

#include "coordinator/store/statements.h"
#include "nlohmann/json.hpp"

namespace skald::store {
namespace {

core::TimePoint FromMillis(const pqxx::field& field) {
  return core::TimePoint(std::chrono::milliseconds(field.as<long long>()));
}

std::vector<std::string> Names(const pqxx::field& field) {
  return nlohmann::json::parse(field.c_str()).get<std::vector<std::string>>();
}

}  // namespace

absl::Status RegistryStore::Register(const core::ParticipantInstance& instance,
                                     std::chrono::milliseconds ttl) {
  absl::Status refused;
  absl::Status status = pool_.Run(
      "register " + instance.service + " instance " + instance.instance_id,
      [&](pqxx::connection& c) {
        refused = absl::OkStatus();
        pqxx::work tx(c);
        // A renewal passes at once; a new registration is counted with the table locked
        // against other registrations (reads go on), so concurrent ones cannot overshoot.
        auto counts = [&] {
          return tx.exec_prepared1(std::string(stmt::kCountLiveInstances), instance.service,
                                   instance.instance_id);
        };
        pqxx::row row = counts();
        if (!row[2].as<bool>()) {
          tx.exec_prepared(std::string(stmt::kLockInstances));
          row = counts();
        }
        if (!row[2].as<bool>()) {
          const auto in_service = row[0].as<long long>();
          const auto total = row[1].as<long long>();
          if (static_cast<size_t>(in_service) >= limits_.max_per_service) {
            refused = absl::ResourceExhaustedError(
                "service " + instance.service + " has " + std::to_string(in_service) +
                " live registrations, the limit per service (deregister stale instances, or "
                "let them expire)");
            return;
          }
          if (static_cast<size_t>(total) >= limits_.max_total) {
            refused = absl::ResourceExhaustedError(
                std::to_string(total) +
                " live registrations in all, the limit (deregister stale instances, or let "
                "them expire)");
            return;
          }
        }
        tx.exec_prepared(std::string(stmt::kUpsertInstance), instance.service, instance.instance_id,
                         instance.address, nlohmann::json(instance.actions).dump(),
                         nlohmann::json(instance.compensations).dump(),
                         static_cast<long long>(ttl.count()));
        tx.exec_prepared(std::string(stmt::kSweepInstances));
        tx.commit();
      });
  if (!status.ok()) return status;
  return refused;
}

absl::StatusOr<bool> RegistryStore::Deregister(const std::string& service,
                                               const std::string& instance_id) {
  bool removed = false;
  absl::Status status =
      pool_.Run("deregister " + service + " instance " + instance_id, [&](pqxx::connection& c) {
        pqxx::work tx(c);
        removed = tx.exec_prepared(std::string(stmt::kDeleteInstance), service, instance_id)
                      .affected_rows() > 0;
        tx.commit();
      });
  if (!status.ok()) return status;
  return removed;
}

absl::StatusOr<std::vector<core::ParticipantInstance>> RegistryStore::LiveInstances() {
  std::vector<core::ParticipantInstance> instances;
  absl::Status status = pool_.Run("list participant instances", [&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    for (const pqxx::row& row : tx.exec_prepared(std::string(stmt::kSelectLiveInstances))) {
      core::ParticipantInstance instance;
      instance.service = row[0].as<std::string>();
      instance.instance_id = row[1].as<std::string>();
      instance.address = row[2].as<std::string>();
      instance.actions = Names(row[3]);
      instance.compensations = Names(row[4]);
      instance.registered_at = FromMillis(row[5]);
      instance.renewed_at = FromMillis(row[6]);
      instance.expires_at = FromMillis(row[7]);
      instances.push_back(std::move(instance));
    }
  });
  if (!status.ok()) return status;
  return instances;
}

}  // namespace skald::store
