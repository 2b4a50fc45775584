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
class ServerContext;
}

namespace skald::api {

// Returns the "authorization" metadata of a gRPC call, or "" when it has none.
std::string AuthorizationOf(const grpc::ServerContext& context);

// Returns who a WatchSaga stream is counted against: the caller's token name, or, with auth
// off, the peer's address without its port ("ipv4:127.0.0.1").
std::string StreamOwner(const Caller& caller, const grpc::ServerContext& context);

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
  // GetDefinition.
  absl::Status CheckReadDefinition(const Caller& caller, const std::string& name) const;
  // GetSaga, GetSagaHistory, WatchSaga. A saga that does not exist passes: the request then
  // answers NOT_FOUND.
  absl::Status CheckReadSaga(const Caller& caller, const std::string& saga_id) const;
  // ListSagas, CountSagas: `definition` is the filter, empty for every definition.
  absl::Status CheckList(const Caller& caller, const std::string& definition) const;
  // AbortSaga, RetrySaga, SkipStep. On success, sets the request's operator to the caller's
  // name followed by the operator text the client gave, in parentheses ("alice (ada)"),
  // so that the history records who was authenticated as well as what they said.
  absl::Status CheckOperate(const Caller& caller, v1::OperatorActionRequest& request) const;
  absl::Status CheckRegister(const Caller& caller) const;
  absl::Status CheckListParticipants(const Caller& caller) const;

 private:
  // Returns `status`, counting it when it is a refusal.
  absl::Status Counted(absl::Status status) const;

  const Authorizer authorizer_;
  store::SagaStore& store_;
  observability::CoordinatorMetrics* const metrics_;
};

// Counts the WatchSaga streams open per caller and refuses one over the limit. Thread-safe.
class StreamLimiter {
 public:
  explicit StreamLimiter(int max_per_caller) : max_per_caller_(max_per_caller) {}

  // Takes a slot for `caller`; RESOURCE_EXHAUSTED naming the limit when it has
  // max_per_caller open already. REQUIRES: Release(caller) once the stream ends, after OK.
  absl::Status Acquire(const std::string& caller);
  void Release(const std::string& caller);

 private:
  const int max_per_caller_;
  std::mutex mutex_;
  std::map<std::string, int> open_;
};

}  // namespace skald::api
