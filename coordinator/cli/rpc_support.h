#pragma once

#include "coordinator/cli/commands.h"
#include "grpcpp/grpcpp.h"
#include "skald/v1/saga_service.grpc.pb.h"

// What every client subcommand shares: exit codes, the call deadline, and how a failed
// call is reported.
namespace skald::cli {

inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitTimeout = 3;

// Returns a channel to the coordinator at client.address, over TLS when client.tls_* name
// files. Exits the process with kExitUsage, after saying why, when they cannot be used.
std::shared_ptr<grpc::Channel> ChannelTo(const ClientFlags& client);

// Returns a SagaService client for the coordinator at client.address.
std::unique_ptr<v1::SagaService::Stub> Connect(const ClientFlags& client);

// Gives a call the commands' deadline (10 s).
void SetDeadline(grpc::ClientContext& context);

// Prints "error: CODE: message" on stderr, with a hint when the coordinator is not
// reachable; returns kExitError.
int ReportRpcError(const grpc::Status& status, const ClientFlags& client);

}  // namespace skald::cli
