#include "coordinator/api/saga_service.h"

#include <chrono>
#include <memory>
#include <thread>

#include "coordinator/api/proto_mapping.h"

namespace skald::api {
namespace {

// Answers a unary call: its caller authenticated, then `call(caller)` (the check and the
// work, in GuardedOperations).
template <typename Call>
grpc::Status Answer(const GuardedOperations& operations, const grpc::ServerContextBase* context,
                    Call call) {
  absl::StatusOr<Caller> caller = operations.Authenticate(context ? AuthorizationOf(*context) : "");
  if (!caller.ok()) return ToGrpc(caller.status());
  return ToGrpc(call(*caller));
}

}  // namespace

absl::StatusOr<Caller> SagaServiceImpl::CallerOf(const grpc::ServerContextBase* context) const {
  return operations_.Authenticate(context ? AuthorizationOf(*context) : "");
}

grpc::Status SagaServiceImpl::ApplyDefinition(grpc::ServerContext* context,
                                              const v1::ApplyDefinitionRequest* request,
                                              v1::ApplyDefinitionResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.ApplyDefinition(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::GetDefinition(grpc::ServerContext* context,
                                            const v1::GetDefinitionRequest* request,
                                            v1::GetDefinitionResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.GetDefinition(caller, *request, response);
  });
}

grpc::ServerUnaryReactor* SagaServiceImpl::StartSaga(grpc::CallbackServerContext* context,
                                                     const v1::StartSagaRequest* request,
                                                     v1::StartSagaResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // A reactor must not block: authorising and the checks go to the start workers, which hand
  // the saga to the group commit and go on; the commit of its batch finishes the call.
  absl::Status posted = starts_.Post([this, context, request, response, reactor] {
    absl::StatusOr<Caller> caller = CallerOf(context);
    if (!caller.ok()) return reactor->Finish(ToGrpc(caller.status()));
    operations_.StartSagaThen(*caller, *request, response,
                              [reactor](absl::Status status) { reactor->Finish(ToGrpc(status)); });
  });
  if (!posted.ok()) {
    if (metrics_ && absl::IsResourceExhausted(posted)) metrics_->LimitExceeded("max_queued_starts");
    reactor->Finish(ToGrpc(posted));
  }
  return reactor;
}

grpc::Status SagaServiceImpl::GetSaga(grpc::ServerContext* context,
                                      const v1::GetSagaRequest* request,
                                      v1::GetSagaResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.GetSaga(caller, *request, response);
  });
}

grpc::ServerUnaryReactor* SagaServiceImpl::AwaitSaga(grpc::CallbackServerContext* context,
                                                     const v1::AwaitSagaRequest* request,
                                                     v1::AwaitSagaResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // A reactor must not block: authorising and the first read go to the waiters' workers.
  const bool posted = waiters_.Post([this, context, request, response, reactor] {
    absl::StatusOr<Caller> caller = CallerOf(context);
    if (!caller.ok()) return reactor->Finish(ToGrpc(caller.status()));
    if (absl::Status allowed = operations_.CheckReadSaga(*caller, request->saga_id());
        !allowed.ok()) {
      return reactor->Finish(ToGrpc(allowed));
    }
    if (absl::Status valid = operations_.read_operations().CheckAwait(*request); !valid.ok()) {
      return reactor->Finish(ToGrpc(valid));
    }
    const std::string saga_id = request->saga_id();
    absl::Status waiting = waiters_.Wait(
        saga_id, std::chrono::milliseconds(request->timeout_ms()),
        [this, saga_id] { return operations_.read_operations().LoadOutcome(saga_id); },
        [context] { return context->IsCancelled(); },
        [response, reactor](const absl::StatusOr<store::SagaOutcome>& outcome) {
          if (!outcome.ok()) return reactor->Finish(ToGrpc(outcome.status()));
          SagaOperations::FillAwaitResponse(*outcome, response);
          reactor->Finish(grpc::Status::OK);
        });
    if (!waiting.ok()) {
      if (metrics_ && absl::IsResourceExhausted(waiting)) metrics_->LimitExceeded("max_waiting");
      reactor->Finish(ToGrpc(waiting));
    }
  });
  if (!posted) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "the coordinator is shutting down; wait on another one"));
  }
  return reactor;
}

grpc::Status SagaServiceImpl::ListSagas(grpc::ServerContext* context,
                                        const v1::ListSagasRequest* request,
                                        v1::ListSagasResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.ListSagas(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::CountSagas(grpc::ServerContext* context,
                                         const v1::CountSagasRequest* request,
                                         v1::CountSagasResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.CountSagas(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::GetSagaHistory(grpc::ServerContext* context,
                                             const v1::GetSagaHistoryRequest* request,
                                             v1::GetSagaHistoryResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.GetSagaHistory(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::WatchSaga(grpc::ServerContext* context,
                                        const v1::WatchSagaRequest* request,
                                        grpc::ServerWriter<v1::SagaEvent>* writer) {
  absl::StatusOr<Caller> caller = CallerOf(context);
  if (!caller.ok()) return ToGrpc(caller.status());
  if (absl::Status allowed = operations_.CheckReadSaga(*caller, request->saga_id());
      !allowed.ok()) {
    return ToGrpc(allowed);
  }
  const std::string owner = StreamOwner(*caller, *context);
  if (absl::Status slot = streams_.Acquire(owner); !slot.ok()) {
    if (metrics_) metrics_->LimitExceeded("max_watch_streams");
    return ToGrpc(slot);
  }
  // Frees the slot however the stream ends.
  std::shared_ptr<void> release(nullptr, [this, &owner](void*) { streams_.Release(owner); });
  SagaOperations& reads = operations_.read_operations();
  int64_t after = request->after_event_id();
  while (!context->IsCancelled()) {
    // Read the state before the history: events recorded up to a terminal state are then
    // all in the history read next, and the stream ends with nothing missed.
    v1::GetSagaRequest get;
    get.set_saga_id(request->saga_id());
    v1::GetSagaResponse saga;
    if (absl::Status status = reads.GetSaga(get, &saga); !status.ok()) {
      return ToGrpc(status);
    }
    v1::GetSagaHistoryRequest history_request;
    history_request.set_saga_id(request->saga_id());
    history_request.set_after_event_id(after);
    v1::GetSagaHistoryResponse history;
    if (absl::Status status = reads.GetSagaHistory(history_request, &history); !status.ok()) {
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

grpc::Status SagaServiceImpl::AbortSaga(grpc::ServerContext* context,
                                        const v1::OperatorActionRequest* request,
                                        v1::OperatorActionResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.AbortSaga(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::RetrySaga(grpc::ServerContext* context,
                                        const v1::OperatorActionRequest* request,
                                        v1::OperatorActionResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.RetrySaga(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::SkipStep(grpc::ServerContext* context,
                                       const v1::OperatorActionRequest* request,
                                       v1::OperatorActionResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.SkipStep(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::CompleteStep(grpc::ServerContext* context,
                                           const v1::CompleteStepRequest* request,
                                           v1::CompleteStepResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.CompleteStep(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::Heartbeat(grpc::ServerContext* context,
                                        const v1::HeartbeatRequest* request,
                                        v1::HeartbeatResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.Heartbeat(caller, *request, response);
  });
}

grpc::Status SagaServiceImpl::ResolveStep(grpc::ServerContext* context,
                                          const v1::ResolveStepRequest* request,
                                          v1::OperatorActionResponse* response) {
  return Answer(operations_, context, [&](const Caller& caller) {
    return operations_.ResolveStep(caller, *request, response);
  });
}

}  // namespace skald::api
