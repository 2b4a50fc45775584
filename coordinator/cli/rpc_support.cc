#include "coordinator/cli/rpc_support.h"

#include <chrono>
#include <iostream>

#include "coordinator/api/proto_mapping.h"
#include "coordinator/cli/bearer_token.h"

namespace skald::cli {

std::shared_ptr<grpc::Channel> ChannelTo(const ClientFlags& client) {
  // The token, when given, goes with every call (bearer_token.h).
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      client.address, grpc::InsecureChannelCredentials(), grpc::ChannelArguments(),
      BearerTokenInterceptors(client.token));
}

std::unique_ptr<v1::SagaService::Stub> Connect(const ClientFlags& client) {
  return v1::SagaService::NewStub(ChannelTo(client));
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

int ReportRpcError(const grpc::Status& status, const ClientFlags& client) {
  std::cerr << "error: " << api::StatusCodeName(status.error_code()) << ": "
            << status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << " (is the coordinator running at " << client.address << "?)";
  }
  std::cerr << "\n";
  return kExitError;
}

}  // namespace skald::cli
