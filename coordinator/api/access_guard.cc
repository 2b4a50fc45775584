#include "coordinator/api/access_guard.h"

#include <grpcpp/grpcpp.h>

#include "coordinator/core/bounded_json.h"
#include "coordinator/core/completion_token.h"

namespace skald::api {
namespace {

// Stands for the definition of a request that names none: in no namespace but "*".
constexpr std::string_view kUnnamed = "(unnamed)";

// How deep the scan for a definition's name reads: the parser's own limit is checked
// afterwards; a document deeper than this is unnamed here, so refused to namespaced callers.
constexpr size_t kMaxNameScanDepth = 256;

}  // namespace

absl::Status SagaNotFound(const std::string& saga_id) {
  return absl::NotFoundError("no saga with id \"" + saga_id + "\"");
}

absl::Status DefinitionNotFound(const std::string& name, int version) {
  return absl::NotFoundError(version == 0 ? "no definition named \"" + name + "\" has been applied"
                                          : "definition \"" + name + "\" has no version " +
                                                std::to_string(version));
}

std::string AuthorizationOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

std::string StreamOwner(const Caller& caller, const grpc::ServerContextBase& context) {
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
  // A caller without the role is refused before the document is even read.
  if (!caller.roles.count(Role::kSubmitter)) {
    return Counted(Authorizer::Authorize(caller, Permission::kApplyDefinition, kUnnamed));
  }
  // Only the name matters here, read without building the document (a few MiB of "[[[["
  // would otherwise cost hundreds of MB per request before any limit applied); the parser
  // reads the document once, afterwards, with every limit. One that does not parse, or
  // has no name, belongs to no namespace.
  const std::optional<std::string> name =
      core::FindTopLevelString(request.definition_json(), "name", kMaxNameScanDepth);
  return Counted(Authorizer::Authorize(caller, Permission::kApplyDefinition,
                                       name && !name->empty() ? *name : kUnnamed));
}

absl::Status AccessGuard::CheckStart(const Caller& caller,
                                     const v1::StartSagaRequest& request) const {
  if (caller.unrestricted) return absl::OkStatus();
  return Counted(Authorizer::Authorize(
      caller, Permission::kStartSaga,
      request.definition().empty() ? kUnnamed : std::string_view(request.definition())));
}

absl::Status AccessGuard::CheckReadDefinition(const Caller& caller, const std::string& name,
                                              int version) const {
  if (caller.unrestricted) return absl::OkStatus();
  // A caller without any reading role learns nothing either way: say what it lacks.
  if (!caller.roles.count(Role::kSubmitter) && !caller.roles.count(Role::kOperator)) {
    return Counted(Authorizer::Authorize(caller, Permission::kRead,
                                         name.empty() ? kUnnamed : std::string_view(name)));
  }
  if (Authorizer::Authorize(caller, Permission::kRead, name.empty() ? kUnnamed : name).ok()) {
    return absl::OkStatus();
  }
  // Another namespace's definition is answered as one never applied, so that the answer
  // does not tell whether it exists.
  if (metrics_) metrics_->RequestRefused("permission_denied");
  return DefinitionNotFound(name, version);
}

absl::Status AccessGuard::CheckReadSaga(const Caller& caller, const std::string& saga_id) const {
  if (caller.unrestricted) return absl::OkStatus();
  // An operator reads every saga: no need to look it up.
  if (Authorizer::Authorize(caller, Permission::kRead, "").ok()) return absl::OkStatus();
  if (!caller.roles.count(Role::kSubmitter)) {
    return Counted(Authorizer::Authorize(caller, Permission::kRead, kUnnamed));
  }
  absl::StatusOr<store::SagaRecord> saga = store_.GetSaga(saga_id);
  if (absl::IsNotFound(saga.status())) return absl::OkStatus();
  if (!saga.ok()) return saga.status();
  if (Authorizer::Authorize(caller, Permission::kRead, saga->definition_name).ok()) {
    return absl::OkStatus();
  }
  // A saga of another namespace is answered as one that does not exist: the same code and
  // message, naming neither its definition nor its namespace.
  if (metrics_) metrics_->RequestRefused("permission_denied");
  return SagaNotFound(saga_id);
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

absl::Status AccessGuard::CheckComplete(const Caller& caller, const std::string* saga_id) const {
  if (caller.unrestricted) return absl::OkStatus();
  if (!caller.roles.count(Role::kParticipant)) {
    return Counted(Authorizer::Authorize(caller, Permission::kComplete, kUnnamed));
  }
  if (!saga_id) return absl::OkStatus();
  absl::StatusOr<store::SagaRecord> saga = store_.GetSaga(*saga_id);
  if (absl::IsNotFound(saga.status())) return core::UnknownCompletionToken();
  if (!saga.ok()) return saga.status();
  if (Authorizer::Authorize(caller, Permission::kComplete, saga->definition_name).ok()) {
    return absl::OkStatus();
  }
  if (metrics_) metrics_->RequestRefused("permission_denied");
  return core::UnknownCompletionToken();
}

absl::Status AccessGuard::CheckResolve(const Caller& caller,
                                       v1::ResolveStepRequest& request) const {
  v1::OperatorActionRequest action;
  action.set_saga_id(request.saga_id());
  action.set_operator_(request.operator_());
  if (absl::Status allowed = CheckOperate(caller, action); !allowed.ok()) return allowed;
  request.set_operator_(action.operator_());
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
  if (total_ >= max_total_) {
    return absl::ResourceExhaustedError(
        "max_watch_streams: " + std::to_string(total_) +
        " WatchSaga streams open on this coordinator, its limit; watch again later, or poll "
        "GetSagaHistory");
  }
  int& open = open_[caller];
  if (open >= max_per_caller_) {
    return absl::ResourceExhaustedError(
        "max_watch_streams: " + std::to_string(open) + " WatchSaga streams open for this caller, " +
        "the limit is " + std::to_string(max_per_caller_) + " (--max-watch-streams)");
  }
  ++open;
  ++total_;
  return absl::OkStatus();
}

void StreamLimiter::Release(const std::string& caller) {
  std::lock_guard lock(mutex_);
  auto it = open_.find(caller);
  if (it == open_.end()) return;
  --total_;
  if (--it->second <= 0) open_.erase(it);
}

}  // namespace skald::api
