#include "coordinator/api/registry_operations.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <optional>
#include <tuple>

#include "coordinator/core/definition_parser.h"
#include "coordinator/core/storable_text.h"
#include "coordinator/core/timestamp_text.h"

namespace skald::api {
namespace {

// ListParticipants pages: service names hold no '/', so "service/instance id" is a token.
constexpr int kMaxParticipantPage = 1000;
constexpr size_t kDefaultParticipantPage = 100;

// Returns an error naming `field` when `value` is not a valid service or handler name.
std::optional<absl::Status> CheckName(const std::string& field, const std::string& value,
                                      size_t max_length) {
  if (absl::Status valid = core::ValidateName(value, max_length); !valid.ok()) {
    return absl::InvalidArgumentError(field + ": " + std::string(valid.message()));
  }
  return std::nullopt;
}

std::optional<absl::Status> CheckAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  const bool has_port = colon != std::string::npos && colon > 0 && colon + 1 < address.size() &&
                        std::all_of(address.begin() + colon + 1, address.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
  if (!has_port || address.size() > 255) {
    return absl::InvalidArgumentError("address: must be \"host:port\", got \"" + address + "\"");
  }
  return std::nullopt;
}

}  // namespace

absl::Status RegistryOperations::Register(const v1::RegisterRequest& request,
                                          v1::RegisterReply* reply) {
  if (auto bad = CheckName("service", request.service(), limits_.max_name_length)) return *bad;
  if (request.instance_id().empty() || request.instance_id().size() > 255) {
    return absl::InvalidArgumentError("instance_id: must be 1 to 255 characters");
  }
  // Stored as text and shown by every listing: what PostgreSQL refuses is refused here.
  if (absl::Status storable = core::CheckStorableText(request.instance_id(), "instance_id");
      !storable.ok()) {
    return storable;
  }
  if (absl::Status storable = core::CheckStorableText(request.address(), "address");
      !storable.ok()) {
    return storable;
  }
  if (auto bad = CheckAddress(request.address())) return *bad;
  if (request.actions_size() + request.compensations_size() == 0) {
    return absl::InvalidArgumentError("actions, compensations: the instance serves no handler");
  }
  if (static_cast<size_t>(request.actions_size() + request.compensations_size()) >
      limits_.max_handlers) {
    return absl::InvalidArgumentError("actions, compensations: more than " +
                                      std::to_string(limits_.max_handlers) + " handlers");
  }
  core::ParticipantInstance instance;
  instance.service = request.service();
  instance.instance_id = request.instance_id();
  instance.address = request.address();
  for (int i = 0; i < request.actions_size(); ++i) {
    if (auto bad = CheckName("actions[" + std::to_string(i) + "]", request.actions(i),
                             limits_.max_name_length)) {
      return *bad;
    }
    instance.actions.push_back(request.actions(i));
  }
  for (int i = 0; i < request.compensations_size(); ++i) {
    if (auto bad = CheckName("compensations[" + std::to_string(i) + "]", request.compensations(i),
                             limits_.max_name_length)) {
      return *bad;
    }
    instance.compensations.push_back(request.compensations(i));
  }
  const std::chrono::milliseconds ttl =
      request.ttl_ms() <= 0 ? limits_.default_ttl
                            : std::clamp(std::chrono::milliseconds(request.ttl_ms()),
                                         limits_.min_ttl, limits_.max_ttl);
  if (absl::Status stored = directory_.Register(instance, ttl); !stored.ok()) {
    return stored;
  }
  reply->set_ttl_ms(static_cast<int32_t>(ttl.count()));
  reply->set_renew_interval_ms(static_cast<int32_t>(ttl.count() / 3));
  return absl::OkStatus();
}

absl::Status RegistryOperations::Deregister(const v1::DeregisterRequest& request,
                                            v1::DeregisterReply* reply) {
  for (const auto& [field, text] : {std::pair{"service", &request.service()},
                                    std::pair{"instance_id", &request.instance_id()}}) {
    if (text->size() > 255)
      return absl::InvalidArgumentError(std::string(field) + ": longer than 255 characters");
    if (absl::Status storable = core::CheckStorableText(*text, field); !storable.ok()) {
      return storable;
    }
  }
  absl::StatusOr<bool> removed = directory_.Deregister(request.service(), request.instance_id());
  if (!removed.ok()) return removed.status();
  if (*removed) {
    spdlog::info("participant {} instance {} deregistered", request.service(),
                 request.instance_id());
  }
  reply->set_removed(*removed);
  return absl::OkStatus();
}

absl::Status RegistryOperations::ListParticipants(const v1::ListParticipantsRequest& request,
                                                  v1::ListParticipantsReply* reply) const {
  if (request.page_size() < 0 || request.page_size() > kMaxParticipantPage) {
    return absl::InvalidArgumentError("page_size: must be from 0 to " +
                                      std::to_string(kMaxParticipantPage));
  }
  if (request.service().size() > limits_.max_name_length) {
    return absl::InvalidArgumentError("service: longer than " +
                                      std::to_string(limits_.max_name_length) + " characters");
  }
  const size_t page_size =
      request.page_size() == 0 ? kDefaultParticipantPage : static_cast<size_t>(request.page_size());
  // Pages follow (service, instance id); the token is the last one of the previous page.
  std::vector<discovery::InstanceView> views = directory_.Snapshot(request.service());
  std::sort(views.begin(), views.end(), [](const auto& a, const auto& b) {
    return std::tie(a.instance.service, a.instance.instance_id) <
           std::tie(b.instance.service, b.instance.instance_id);
  });
  auto from = views.begin();
  if (!request.page_token().empty()) {
    const std::string& token = request.page_token();
    const size_t slash = token.find('/');
    if (slash == std::string::npos) {
      return absl::InvalidArgumentError("page_token: not a token from a previous listing");
    }
    const auto after = std::make_pair(token.substr(0, slash), token.substr(slash + 1));
    from =
        std::upper_bound(views.begin(), views.end(), after, [](const auto& key, const auto& view) {
          return std::tie(key.first, key.second) <
                 std::tie(view.instance.service, view.instance.instance_id);
        });
  }
  const core::TimePoint now = core::Clock::now();
  for (auto it = from; it != views.end(); ++it) {
    if (static_cast<size_t>(reply->instances_size()) == page_size) {
      const core::ParticipantInstance& last = std::prev(it)->instance;
      reply->set_next_page_token(last.service + "/" + last.instance_id);
      break;
    }
    const discovery::InstanceView& view = *it;
    v1::ParticipantInstance* out = reply->add_instances();
    const core::ParticipantInstance& instance = view.instance;
    out->set_service(instance.service);
    out->set_instance_id(instance.instance_id);
    out->set_address(instance.address);
    for (const std::string& action : instance.actions) out->add_actions(action);
    for (const std::string& compensation : instance.compensations) {
      out->add_compensations(compensation);
    }
    out->set_registered_at(core::Rfc3339Millis(instance.registered_at));
    out->set_renewed_at(core::Rfc3339Millis(instance.renewed_at));
    out->set_expires_at(core::Rfc3339Millis(instance.expires_at));
    const bool ejected = view.health.ejected_until && *view.health.ejected_until > now;
    out->set_health(ejected                                ? "ejected"
                    : view.health.consecutive_failures > 0 ? "failing"
                    : view.health.called                   ? "healthy"
                                                           : "unknown");
    out->set_consecutive_failures(view.health.consecutive_failures);
    out->set_last_error(view.health.last_error);
    if (ejected) out->set_ejected_until(core::Rfc3339Millis(*view.health.ejected_until));
  }
  return absl::OkStatus();
}

}  // namespace skald::api
