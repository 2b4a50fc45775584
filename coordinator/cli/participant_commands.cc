// `skald participant list`.
#include <iostream>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/participant_printer.h"
#include "coordinator/cli/rpc_support.h"
#include "skald/v1/registry.grpc.pb.h"

namespace skald::cli {

int ListParticipants(const ClientFlags& client, const std::string& service) {
  v1::ListParticipantsRequest request;
  request.set_service(service);
  v1::ListParticipantsReply reply;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = v1::ParticipantRegistry::NewStub(ChannelTo(client))
                            ->ListParticipants(&context, request, &reply);
  if (!status.ok()) return ReportRpcError(status, client);
  if (client.json) {
    std::cout << ParticipantsToJson(reply).dump(2) << "\n";
  } else {
    PrintParticipants(reply, std::cout);
  }
  return 0;
}

}  // namespace skald::cli
