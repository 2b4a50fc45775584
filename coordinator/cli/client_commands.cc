#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "coordinator/api/proto_mapping.h"
#include "coordinator/cli/commands.h"
#include "coordinator/cli/input_source.h"
#include "coordinator/cli/rpc_support.h"
#include "coordinator/cli/saga_printer.h"
#include "coordinator/core/duration.h"
#include "grpcpp/grpcpp.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::cli {
namespace {

// How long `saga wait` pauses before waiting again when its coordinator was unavailable.
constexpr std::chrono::milliseconds kRewaitPause(200);

// True when a call failed because its coordinator went away: UNAVAILABLE, or, for a
// connection reset while the call was waiting, UNKNOWN ("Stream removed") or CANCELLED (a
// coordinator shutting down cancels its waiters) -- never something this process did.
bool IsCoordinatorLost(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::UNKNOWN ||
         status.error_code() == grpc::StatusCode::CANCELLED;
}

void Show(const v1::Saga& saga, const ClientFlags& client) {
  if (client.json) {
    std::cout << SagaToJson(saga).dump(2) << "\n";
  } else {
    PrintSaga(saga, std::cout);
  }
}

}  // namespace

int ApplyDefinition(const ClientFlags& client, const std::string& file) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) {
      std::cerr << "error: cannot read " << file << "\n";
      return kExitUsage;
    }
    text << in.rdbuf();
  }
  v1::ApplyDefinitionRequest request;
  request.set_definition_json(text.str());
  v1::ApplyDefinitionResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = Connect(client)->ApplyDefinition(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    std::cout << nlohmann::json{{"name", response.name()},
                                {"version", response.version()},
                                {"created", response.created()}}
                     .dump()
              << "\n";
  } else {
    std::cout << "definition " << response.name() << " v" << response.version()
              << (response.created() ? " applied" : " unchanged (already applied)") << "\n";
  }
  return 0;
}

int StartSaga(const ClientFlags& client, const std::string& definition, int version,
              const std::string& input_json, const std::string& saga_id,
              const std::string& traceparent, const std::string& callback_url) {
  absl::StatusOr<std::string> input = ReadInputArgument(input_json, std::cin);
  if (!input.ok()) {
    std::cerr << "error: --input: " << input.status().message() << "\n";
    return kExitUsage;
  }
  v1::StartSagaRequest request;
  request.set_definition(definition);
  request.set_version(version);
  request.set_input_json(*std::move(input));
  request.set_saga_id(saga_id);
  request.set_traceparent(traceparent);
  request.set_callback_url(callback_url);
  v1::StartSagaResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = Connect(client)->StartSaga(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    std::cout << nlohmann::json{{"id", response.saga_id()}, {"created", response.created()}}.dump()
              << "\n";
  } else {
    std::cout << response.saga_id() << "\n";
  }
  return 0;
}

int GetSaga(const ClientFlags& client, const std::string& saga_id) {
  v1::GetSagaRequest request;
  request.set_saga_id(saga_id);
  v1::GetSagaResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = Connect(client)->GetSaga(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  Show(response.saga(), client);
  return 0;
}

int ListSagas(const ClientFlags& client, const SagaListFlags& flags) {
  v1::ListSagasRequest request;
  if (!flags.state.empty()) {
    v1::SagaState wire;
    if (!v1::SagaState_Parse("SAGA_STATE_" + flags.state, &wire)) {
      std::cerr << "error: --state: unknown state \"" << flags.state
                << "\" (RUNNING, COMPENSATING, COMPLETED, COMPENSATED, FAILED)\n";
      return kExitUsage;
    }
    request.set_state(wire);
  }
  request.set_definition(flags.definition);
  request.set_created_after(flags.created_after);
  request.set_created_before(flags.created_before);
  request.set_page_size(flags.limit);
  request.set_page_token(flags.page_token);
  v1::ListSagasResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = Connect(client)->ListSagas(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    nlohmann::json sagas = nlohmann::json::array();
    for (const v1::Saga& saga : response.sagas()) sagas.push_back(SagaToJson(saga));
    std::cout
        << nlohmann::json{{"sagas", sagas}, {"next_page_token", response.next_page_token()}}.dump(2)
        << "\n";
  } else {
    PrintSagaList(response, std::cout);
    if (!response.next_page_token().empty()) {
      std::cout << "(more: --page-token '" << response.next_page_token() << "')\n";
    }
  }
  return 0;
}

int WaitSaga(const ClientFlags& client, const std::string& saga_id, const std::string& timeout) {
  auto limit = core::ParseDuration(timeout);
  if (!limit.ok()) {
    std::cerr << "error: --timeout: " << limit.status().message() << "\n";
    return kExitUsage;
  }
  auto stub = Connect(client);
  const auto give_up = std::chrono::steady_clock::now() + *limit;
  // The coordinator answers as soon as the saga ends; one call waits at most a minute.
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    v1::AwaitSagaRequest request;
    request.set_saga_id(saga_id);
    request.set_timeout_ms(std::clamp<int64_t>(left.count(), 0, 60'000));
    v1::AwaitSagaResponse awaited;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(request.timeout_ms()) +
                         std::chrono::seconds(10));
    grpc::Status status = stub->AwaitSaga(&context, request, &awaited);
    if (IsCoordinatorLost(status) && std::chrono::steady_clock::now() + kRewaitPause < give_up) {
      // The coordinator waited on went away (or none is up yet): wait again, on another
      // coordinator of the list when there is one. The saga's end is in the database.
      std::this_thread::sleep_for(kRewaitPause);
      continue;
    }
    if (!status.ok()) return ReportRpcError(status, client);
    if (awaited.finished()) break;
    if (std::chrono::steady_clock::now() >= give_up) {
      std::cerr << "error: saga " << saga_id << " still " << StateName(awaited.state()) << " after "
                << timeout << "\n";
      return kExitTimeout;
    }
  }
  v1::GetSagaRequest request;
  request.set_saga_id(saga_id);
  v1::GetSagaResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = stub->GetSaga(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  Show(response.saga(), client);
  return 0;
}

}  // namespace skald::cli
