#include "coordinator/cli/rpc_support.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "coordinator/api/proto_mapping.h"
#include "coordinator/cli/bearer_token.h"
#include "tls/address_list.h"
#include "tls/grpc_credentials.h"

namespace skald::cli {

std::shared_ptr<grpc::Channel> ChannelTo(const ClientFlags& client) {
  auto credentials = tls::MakeChannelCredentials(
      {.ca_file = client.tls_ca, .cert_file = client.tls_cert, .key_file = client.tls_key});
  if (!credentials.ok()) {
    // A usage error no command can recover from: said once, here, for every command.
    std::cerr << "error: --tls-ca/--tls-cert/--tls-key: " << credentials.status().message() << "\n";
    std::exit(kExitUsage);
  }
  // The token, when given, goes with every call (bearer_token.h).
  // A coordinator sends responses of any size (a saga with large step outputs and errors,
  // a long history): gRPC's default 4 MiB receive limit made those unreadable.
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  // Several coordinators ("a:7700,b:7700") share the calls round-robin, passing over those
  // that are down (tls/address_list.h).
  absl::StatusOr<std::string> target = tls::BalancedTarget(client.address, arguments);
  if (!target.ok()) {
    std::cerr << "error: --address: " << target.status().message() << "\n";
    std::exit(kExitUsage);
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      *target, *credentials, arguments, BearerTokenInterceptors(client.token));
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
    std::cerr << " (is the coordinator running at " << client.address << "?"
              << (client.tls_ca.empty() ? " does it require TLS (--tls-ca)?"
                                        : " does it serve TLS, with a certificate from --tls-ca?")
              << ")";
  }
  std::cerr << "\n";
  return kExitError;
}

}  // namespace skald::cli
