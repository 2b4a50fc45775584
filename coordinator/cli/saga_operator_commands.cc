// `skald saga history | watch | abort | retry | skip`: what an operator uses to find out why
// a saga is stuck and to unstick it.
#include <iostream>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/history_printer.h"
#include "coordinator/cli/rpc_support.h"
#include "coordinator/cli/saga_printer.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::cli {
namespace {

void Print(const v1::SagaEvent& event, const ClientFlags& client) {
  if (client.json) {
    std::cout << EventToJson(event).dump() << "\n";
  } else {
    PrintHistoryRow(event, std::cout);
  }
}

}  // namespace

int SagaHistory(const ClientFlags& client, const std::string& saga_id) {
  v1::GetSagaHistoryRequest request;
  request.set_saga_id(saga_id);
  v1::GetSagaHistoryResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = Connect(client)->GetSagaHistory(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    nlohmann::json events = nlohmann::json::array();
    for (const v1::SagaEvent& event : response.events()) events.push_back(EventToJson(event));
    std::cout << nlohmann::json{{"saga_id", saga_id}, {"events", events}}.dump(2) << "\n";
    return 0;
  }
  PrintHistoryHeader(std::cout);
  for (const v1::SagaEvent& event : response.events()) PrintHistoryRow(event, std::cout);
  return 0;
}

int WatchSaga(const ClientFlags& client, const std::string& saga_id) {
  v1::WatchSagaRequest request;
  request.set_saga_id(saga_id);
  // No deadline: a watch lasts as long as the saga runs (Ctrl-C ends it).
  grpc::ClientContext context;
  auto stub = Connect(client);
  std::unique_ptr<grpc::ClientReader<v1::SagaEvent>> reader = stub->WatchSaga(&context, request);
  if (!client.json) PrintHistoryHeader(std::cout);
  v1::SagaEvent event;
  while (reader->Read(&event)) {
    Print(event, client);
    std::cout.flush();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportRpcError(status, client);
  if (!client.json) {
    v1::GetSagaRequest get;
    get.set_saga_id(saga_id);
    v1::GetSagaResponse saga;
    grpc::ClientContext get_context;
    SetDeadline(get_context);
    if (stub->GetSaga(&get_context, get, &saga).ok()) {
      std::cout << "saga " << saga_id << " ended " << StateName(saga.saga().state()) << "\n";
    }
  }
  return 0;
}

int OperatorAction(const ClientFlags& client, const std::string& action, const std::string& saga_id,
                   const OperatorFlags& flags) {
  v1::OperatorActionRequest request;
  request.set_saga_id(saga_id);
  request.set_operator_(flags.operator_name);
  request.set_reason(flags.reason);
  request.set_step(flags.step);
  v1::OperatorActionResponse response;
  grpc::ClientContext context;
  // The coordinator waits up to 10 s for the action to be recorded.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  auto stub = Connect(client);
  grpc::Status status = action == "abort"   ? stub->AbortSaga(&context, request, &response)
                        : action == "retry" ? stub->RetrySaga(&context, request, &response)
                                            : stub->SkipStep(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    std::cout << SagaToJson(response.saga()).dump(2) << "\n";
  } else {
    std::cout << action << " recorded; saga " << saga_id << " is now "
              << StateName(response.saga().state()) << "\n\n";
    PrintSaga(response.saga(), std::cout);
  }
  return 0;
}

}  // namespace skald::cli
