#include "coordinator/api/access_guard.h"

#include <grpcpp/grpcpp.h>

#include "nlohmann/json.hpp"

namespace skald::api {
namespace {

// Stands for the definition of a request that names none: in no namespace but "*".
constexpr std::string_view kUnnamed = "(unnamed)";

}  // namespace

std::string AuthorizationOf(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

std::string StreamOwner(const Caller& caller, const grpc::ServerContext& context) {
  if (!caller.unrestricted) return "token:" + caller.name;
  const std::string peer = context.peer();
  const size_t colon = peer.rfind(':');
  return "peer:" + (colon == std::string::npos || colon < 5 ? peer : peer.substr(0, colon));
}

absl::Status AccessGuard::Counted(absl::Status status) const {
  if (metrics_ && absl::IsUnauthenticated(status)) metrics_->RequestRefused("unauthenticated");
  if (metrics_ && absl::IsPermissionDenied(status)) metrics_->RequestRefused("permission_denied");
  return status;
}

absl::StatusOr<Caller> AccessGuard::Authenticate(std::string_view authorization) const {
  absl::StatusOr<Caller> caller = authorizer_.Authenticate(authorization);
  if (!caller.ok()) return Counted(caller.status());
  return caller;
}

absl::Status AccessGuard::CheckApply(const Caller& caller,
                                     const v1::ApplyDefinitionRequest& request) const {
  if (caller.unrestricted) return absl::OkStatus();
  // Only the name matters here; a document that does not parse is refused by the parser
  // afterwards, with every error, and an unnamed one belongs to no namespace.
  nlohmann::json document =
      nlohmann::json::parse(request.definition_json(), nullptr, /*allow_exceptions=*/false);
  std::string name;
  if (document.is_object() && document.contains("name") && document["name"].is_string()) {
    name = document["name"];
  }
  if (name.empty()) {
    return Counted(Authorizer::Authorize(caller, Permission::kApplyDefinition, kUnnamed));
  }
  return Counted(Authorizer::Authorize(caller, Permission::kApplyDefinition, name));
}

absl::Status AccessGuard::CheckStart(const Caller& caller,
                                     const v1::StartSagaRequest& request) const {
  if (caller.unrestricted) return absl::OkStatus();
  return Counted(Authorizer::Authorize(
      caller, Permission::kStartSaga,
      request.definition().empty() ? kUnnamed : std::string_view(request.definition())));
}

absl::Status AccessGuard::CheckReadDefinition(const Caller& caller, const std::string& name) const {
  if (caller.unrestricted) return absl::OkStatus();
  return Counted(Authorizer::Authorize(caller, Permission::kRead,
                                       name.empty() ? kUnnamed : std::string_view(name)));
}

absl::Status AccessGuard::CheckReadSaga(const Caller& caller, const std::string& saga_id) const {
  if (caller.unrestricted) return absl::OkStatus();
  // An operator reads every saga: no need to look it up.
  if (Authorizer::Authorize(caller, Permission::kRead, "").ok()) return absl::OkStatus();
  absl::StatusOr<store::SagaRecord> saga = store_.GetSaga(saga_id);
  if (absl::IsNotFound(saga.status())) return absl::OkStatus();
  if (!saga.ok()) return saga.status();
  return Counted(Authorizer::Authorize(caller, Permission::kRead, saga->definition_name));
}

absl::Status AccessGuard::CheckList(const Caller& caller, const std::string& definition) const {
  if (caller.unrestricted) return absl::OkStatus();
  return Counted(Authorizer::Authorize(caller, Permission::kRead, definition));
}

absl::Status AccessGuard::CheckOperate(const Caller& caller,
                                       v1::OperatorActionRequest& request) const {
  if (caller.unrestricted) return absl::OkStatus();
  // Refuse a caller without the role before looking the saga up.
  if (!caller.roles.count(Role::kOperator)) {
    return Counted(Authorizer::Authorize(caller, Permission::kOperate, ""));
  }
  absl::StatusOr<store::SagaRecord> saga = store_.GetSaga(request.saga_id());
  if (absl::IsNotFound(saga.status())) return absl::OkStatus();
  if (!saga.ok()) return saga.status();
  if (absl::Status allowed =
          Counted(Authorizer::Authorize(caller, Permission::kOperate, saga->definition_name));
      !allowed.ok()) {
    return allowed;
  }
  if (request.operator_().empty() || request.operator_() == caller.name) {
    request.set_operator_(caller.name);
  } else {
    request.set_operator_(caller.name + " (" + request.operator_() + ")");
  }
  return absl::OkStatus();
}

absl::Status AccessGuard::CheckRegister(const Caller& caller) const {
  return Counted(Authorizer::Authorize(caller, Permission::kRegister));
}

absl::Status AccessGuard::CheckListParticipants(const Caller& caller) const {
  return Counted(Authorizer::Authorize(caller, Permission::kListParticipants));
}

absl::Status StreamLimiter::Acquire(const std::string& caller) {
  std::lock_guard lock(mutex_);
  int& open = open_[caller];
  if (open >= max_per_caller_) {
    return absl::ResourceExhaustedError(
        "max_watch_streams: " + std::to_string(open) + " WatchSaga streams open for this caller, " +
        "the limit is " + std::to_string(max_per_caller_) + " (--max-watch-streams)");
  }
  ++open;
  return absl::OkStatus();
}

void StreamLimiter::Release(const std::string& caller) {
  std::lock_guard lock(mutex_);
  auto it = open_.find(caller);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

}  // namespace skald::api
