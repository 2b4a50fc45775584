#include "coordinator/cli/participant_printer.h"

#include <iomanip>
#include <string>

namespace skald::cli {
namespace {

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ",") + name;
  return joined.empty() ? "-" : joined;
}

std::string Health(const v1::ParticipantInstance& instance) {
  std::string health = instance.health();
  if (instance.consecutive_failures() > 0) {
    health += " (" + std::to_string(instance.consecutive_failures()) + " failed)";
  }
  return health;
}

}  // namespace

nlohmann::json ParticipantsToJson(const v1::ListParticipantsReply& reply) {
  nlohmann::json instances = nlohmann::json::array();
  for (const v1::ParticipantInstance& instance : reply.instances()) {
    nlohmann::json entry = {{"service", instance.service()},
                            {"instance_id", instance.instance_id()},
                            {"address", instance.address()},
                            {"actions", instance.actions()},
                            {"compensations", instance.compensations()},
                            {"registered_at", instance.registered_at()},
                            {"renewed_at", instance.renewed_at()},
                            {"expires_at", instance.expires_at()},
                            {"health", instance.health()},
                            {"consecutive_failures", instance.consecutive_failures()}};
    if (!instance.last_error().empty()) entry["last_error"] = instance.last_error();
    if (!instance.ejected_until().empty()) entry["ejected_until"] = instance.ejected_until();
    instances.push_back(std::move(entry));
  }
  return instances;
}

void PrintParticipants(const v1::ListParticipantsReply& reply, std::ostream& out) {
  if (reply.instances().empty()) {
    out << "no participant instance is registered (fixed-address participants are not "
           "listed)\n";
    return;
  }
  std::string service;
  for (const v1::ParticipantInstance& instance : reply.instances()) {
    if (instance.service() != service) {
      service = instance.service();
      out << (out.tellp() > 0 ? "\n" : "") << "service " << service << "\n";
      out << "  " << std::left << std::setw(24) << "ADDRESS" << std::setw(22) << "HEALTH"
          << std::setw(26) << "EXPIRES"
          << "INSTANCE\n";
    }
    out << "  " << std::left << std::setw(24) << instance.address() << std::setw(22)
        << Health(instance) << std::setw(26) << instance.expires_at() << instance.instance_id()
        << "\n";
    out << "    actions: " << Joined(instance.actions())
        << "  compensations: " << Joined(instance.compensations()) << "\n";
    if (!instance.last_error().empty()) out << "    last error: " << instance.last_error() << "\n";
  }
}

}  // namespace skald::cli
