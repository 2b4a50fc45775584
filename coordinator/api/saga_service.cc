#include "coordinator/api/saga_service.h"

#include <chrono>
#include <thread>

#include "coordinator/api/proto_mapping.h"

namespace skald::api {

grpc::Status SagaServiceImpl::ApplyDefinition(grpc::ServerContext*,
                                              const v1::ApplyDefinitionRequest* request,
                                              v1::ApplyDefinitionResponse* response) {
  return ToGrpc(operations_.ApplyDefinition(*request, response));
}

grpc::Status SagaServiceImpl::GetDefinition(grpc::ServerContext*,
                                            const v1::GetDefinitionRequest* request,
                                            v1::GetDefinitionResponse* response) {
  return ToGrpc(operations_.GetDefinition(*request, response));
}

grpc::Status SagaServiceImpl::StartSaga(grpc::ServerContext*, const v1::StartSagaRequest* request,
                                        v1::StartSagaResponse* response) {
  return ToGrpc(operations_.StartSaga(*request, response));
}

grpc::Status SagaServiceImpl::GetSaga(grpc::ServerContext*, const v1::GetSagaRequest* request,
                                      v1::GetSagaResponse* response) {
  return ToGrpc(operations_.GetSaga(*request, response));
}

grpc::Status SagaServiceImpl::AwaitSaga(grpc::ServerContext*, const v1::AwaitSagaRequest* request,
                                        v1::AwaitSagaResponse* response) {
  return ToGrpc(operations_.AwaitSaga(*request, response));
}

grpc::Status SagaServiceImpl::ListSagas(grpc::ServerContext*, const v1::ListSagasRequest* request,
                                        v1::ListSagasResponse* response) {
  return ToGrpc(operations_.ListSagas(*request, response));
}

grpc::Status SagaServiceImpl::CountSagas(grpc::ServerContext*, const v1::CountSagasRequest* request,
                                         v1::CountSagasResponse* response) {
  return ToGrpc(operations_.CountSagas(*request, response));
}

grpc::Status SagaServiceImpl::GetSagaHistory(grpc::ServerContext*,
                                             const v1::GetSagaHistoryRequest* request,
                                             v1::GetSagaHistoryResponse* response) {
  return ToGrpc(operations_.GetSagaHistory(*request, response));
}

grpc::Status SagaServiceImpl::WatchSaga(grpc::ServerContext* context,
                                        const v1::WatchSagaRequest* request,
                                        grpc::ServerWriter<v1::SagaEvent>* writer) {
  int64_t after = request->after_event_id();
  while (!context->IsCancelled()) {
    // Read the state before the history: events recorded up to a terminal state are then
    // all in the history read next, and the stream ends with nothing missed.
    v1::GetSagaRequest get;
    get.set_saga_id(request->saga_id());
    v1::GetSagaResponse saga;
    if (absl::Status status = operations_.GetSaga(get, &saga); !status.ok()) {
      return ToGrpc(status);
    }
    v1::GetSagaHistoryRequest history_request;
    history_request.set_saga_id(request->saga_id());
    history_request.set_after_event_id(after);
    v1::GetSagaHistoryResponse history;
    if (absl::Status status = operations_.GetSagaHistory(history_request, &history); !status.ok()) {
      return ToGrpc(status);
    }
    for (const v1::SagaEvent& event : history.events()) {
      if (!writer->Write(event)) return grpc::Status::CANCELLED;
      after = event.id();
    }
    const v1::SagaState state = saga.saga().state();
    if (state == v1::SAGA_STATE_COMPLETED || state == v1::SAGA_STATE_COMPENSATED ||
        state == v1::SAGA_STATE_FAILED) {
      return grpc::Status::OK;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return grpc::Status::CANCELLED;
}

grpc::Status SagaServiceImpl::AbortSaga(grpc::ServerContext*,
                                        const v1::OperatorActionRequest* request,
                                        v1::OperatorActionResponse* response) {
  return ToGrpc(operations_.AbortSaga(*request, response));
}

grpc::Status SagaServiceImpl::RetrySaga(grpc::ServerContext*,
                                        const v1::OperatorActionRequest* request,
                                        v1::OperatorActionResponse* response) {
  return ToGrpc(operations_.RetrySaga(*request, response));
}

grpc::Status SagaServiceImpl::SkipStep(grpc::ServerContext*,
                                       const v1::OperatorActionRequest* request,
                                       v1::OperatorActionResponse* response) {
  return ToGrpc(operations_.SkipStep(*request, response));
}

}  // namespace skald::api
