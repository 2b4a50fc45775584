#pragma once

#include "coordinator/api/access_guard.h"
#include "coordinator/api/database_workers.h"
#include "coordinator/api/guarded_operations.h"
#include "coordinator/api/saga_waiters.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::api {

// The client API over gRPC (skald.v1.SagaService), a thin adapter: each method hands the
// caller's "authorization" metadata and its request to GuardedOperations (authenticate,
// check, call) on gRPC's synchronous server threads and maps the status. AwaitSaga,
// which may wait a minute, uses gRPC's callback API instead and holds no thread while it
// waits (SagaWaiters); so does StartSaga, the call every client makes, checked on a few
// DatabaseWorkers and answered after the group commit of its saga (StartBatcher): the
// coordinator's threads stay bounded however many clients start sagas at once.
class SagaServiceImpl final
    : public v1::SagaService::WithCallbackMethod_AwaitSaga<
          v1::SagaService::WithCallbackMethod_StartSaga<v1::SagaService::Service>> {
 public:
  // `metrics` (optional) counts WatchSaga streams refused over `max_watch_streams`.
  SagaServiceImpl(GuardedOperations& operations, int max_watch_streams = 8,
                  observability::CoordinatorMetrics* metrics = nullptr,
                  SagaWaiters::Options waiters = {}, int max_total_watch_streams = 256,
                  DatabaseWorkers::Options starts = {})
      : operations_(operations),
        streams_(max_watch_streams, max_total_watch_streams),
        metrics_(metrics),
        waiters_(operations.read_operations().outcomes(), waiters),
        starts_(starts) {}

  // Finishes the AwaitSaga calls still waiting (UNAVAILABLE), hands the StartSaga calls
  // accepted to the group commit (which answers them; stopped after the server), and refuses
  // new ones: before the server shuts down, which waits for every callback call to finish.
  void StopWaiting() {
    waiters_.Stop();
    starts_.Stop();
  }

  grpc::Status ApplyDefinition(grpc::ServerContext* context,
                               const v1::ApplyDefinitionRequest* request,
                               v1::ApplyDefinitionResponse* response) override;
  grpc::Status GetDefinition(grpc::ServerContext* context, const v1::GetDefinitionRequest* request,
                             v1::GetDefinitionResponse* response) override;
  grpc::ServerUnaryReactor* StartSaga(grpc::CallbackServerContext* context,
                                      const v1::StartSagaRequest* request,
                                      v1::StartSagaResponse* response) override;
  grpc::Status GetSaga(grpc::ServerContext* context, const v1::GetSagaRequest* request,
                       v1::GetSagaResponse* response) override;
  grpc::ServerUnaryReactor* AwaitSaga(grpc::CallbackServerContext* context,
                                      const v1::AwaitSagaRequest* request,
                                      v1::AwaitSagaResponse* response) override;
  grpc::Status ListSagas(grpc::ServerContext* context, const v1::ListSagasRequest* request,
                         v1::ListSagasResponse* response) override;
  grpc::Status CountSagas(grpc::ServerContext* context, const v1::CountSagasRequest* request,
                          v1::CountSagasResponse* response) override;
  grpc::Status GetSagaHistory(grpc::ServerContext* context,
                              const v1::GetSagaHistoryRequest* request,
                              v1::GetSagaHistoryResponse* response) override;
  // Polls the history (every 200 ms) and streams new events until the saga is terminal
  // and its last event was sent, or the client goes away. At most max_watch_streams at once
  // per caller (see StreamOwner); RESOURCE_EXHAUSTED beyond.
  grpc::Status WatchSaga(grpc::ServerContext* context, const v1::WatchSagaRequest* request,
                         grpc::ServerWriter<v1::SagaEvent>* writer) override;
  grpc::Status AbortSaga(grpc::ServerContext* context, const v1::OperatorActionRequest* request,
                         v1::OperatorActionResponse* response) override;
  grpc::Status RetrySaga(grpc::ServerContext* context, const v1::OperatorActionRequest* request,
                         v1::OperatorActionResponse* response) override;
  grpc::Status SkipStep(grpc::ServerContext* context, const v1::OperatorActionRequest* request,
                        v1::OperatorActionResponse* response) override;
  grpc::Status CompleteStep(grpc::ServerContext* context, const v1::CompleteStepRequest* request,
                            v1::CompleteStepResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status ResolveStep(grpc::ServerContext* context, const v1::ResolveStepRequest* request,
                           v1::OperatorActionResponse* response) override;

 private:
  // The authenticated caller of the call.
  absl::StatusOr<Caller> CallerOf(const grpc::ServerContextBase* context) const;

  GuardedOperations& operations_;
  StreamLimiter streams_;
  observability::CoordinatorMetrics* const metrics_;
  SagaWaiters waiters_;
  DatabaseWorkers starts_;
};

}  // namespace skald::api
