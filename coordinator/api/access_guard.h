#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/api/authorizer.h"
#include "coordinator/observability/coordinator_metrics.h"
#include "coordinator/store/saga_store.h"
#include "skald/v1/saga_service.pb.h"

namespace grpc {
class ServerContextBase;
}

namespace skald::api {

// The answers for a saga or definition that does not exist, as the store gives them; also
// given for one the caller may not read, so that existence is not revealed.
absl::Status SagaNotFound(const std::string& saga_id);
absl::Status DefinitionNotFound(const std::string& name, int version);

// Returns the "authorization" metadata of a gRPC call, or "" when it has none.
std::string AuthorizationOf(const grpc::ServerContextBase& context);

// Returns who a WatchSaga stream is counted against: the caller's token name, or, with auth
// off, the peer's address without its port ("ipv4:127.0.0.1").
std::string StreamOwner(const Caller& caller, const grpc::ServerContextBase& context);

// Applies the Authorizer to the client API's requests, the same way for gRPC and HTTP:
// which permission each request needs and on which definition's namespace (looking up the
// saga for requests that name one), counting refusals in the metrics. Thread-safe.
class AccessGuard {
 public:
  // `store` finds the definition of a saga named by a request; `metrics` (optional) counts
  // refusals. Both must outlive this object.
  AccessGuard(Authorizer authorizer, store::SagaStore& store,
              observability::CoordinatorMetrics* metrics = nullptr)
      : authorizer_(std::move(authorizer)), store_(store), metrics_(metrics) {}

  bool enabled() const { return authorizer_.enabled(); }

  // The caller presenting `authorization` ("Bearer <token>", empty when absent).
  absl::StatusOr<Caller> Authenticate(std::string_view authorization) const;

  absl::Status CheckApply(const Caller& caller, const v1::ApplyDefinitionRequest& request) const;
  absl::Status CheckStart(const Caller& caller, const v1::StartSagaRequest& request) const;
  // GetDefinition. A definition the caller may not read is NOT_FOUND, exactly as one never
  // applied (DefinitionNotFound), so that the answer does not reveal whether it exists.
  absl::Status CheckReadDefinition(const Caller& caller, const std::string& name,
                                   int version = 0) const;
  // GetSaga, GetSagaHistory, WatchSaga, AwaitSaga. A saga that does not exist passes: the
  // request then answers NOT_FOUND; one of a namespace the caller may not read is answered
  // with the same NOT_FOUND (SagaNotFound).
  absl::Status CheckReadSaga(const Caller& caller, const std::string& saga_id) const;
  // ListSagas, CountSagas: `definition` is the filter, empty for every definition.
  absl::Status CheckList(const Caller& caller, const std::string& definition) const;
  // AbortSaga, RetrySaga, SkipStep. On success, sets the request's operator to the caller's
  // name followed by the operator text the client gave, in parentheses ("alice (ada)"),
  // so that the history records who was authenticated as well as what they said.
  absl::Status CheckOperate(const Caller& caller, v1::OperatorActionRequest& request) const;
  // CompleteStep, Heartbeat. Without `saga_id`: only the role is checked (before the token
  // is even opened). With it: the saga's namespace too; a saga of a namespace the caller
  // may not complete in is answered like a forged token (NOT_FOUND), revealing nothing.
  absl::Status CheckComplete(const Caller& caller, const std::string* saga_id) const;
  // ResolveStep: as CheckOperate (the operator's name is recorded the same way).
  absl::Status CheckResolve(const Caller& caller, v1::ResolveStepRequest& request) const;
  absl::Status CheckRegister(const Caller& caller) const;
  absl::Status CheckListParticipants(const Caller& caller) const;

 private:
  // Returns `status`, counting it when it is a refusal.
  absl::Status Counted(absl::Status status) const;

  const Authorizer authorizer_;
  store::SagaStore& store_;
  observability::CoordinatorMetrics* const metrics_;
};

// Counts the WatchSaga streams open per caller and in all, and refuses one over either
// limit (each stream holds a server thread). Thread-safe.
class StreamLimiter {
 public:
  explicit StreamLimiter(int max_per_caller, int max_total = 256)
      : max_per_caller_(max_per_caller), max_total_(max_total) {}

  // Takes a slot for `caller`; RESOURCE_EXHAUSTED naming the limit when it has
  // max_per_caller open already, or max_total are open on this coordinator.
  // REQUIRES: Release(caller) once the stream ends, after OK.
  absl::Status Acquire(const std::string& caller);
  void Release(const std::string& caller);

 private:
  const int max_per_caller_;
  const int max_total_;
  std::mutex mutex_;
  int total_ = 0;
  std::map<std::string, int> open_;
};

}  // namespace skald::api
