// `skald participant list`.
#include <iostream>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/participant_printer.h"
#include "coordinator/cli/rpc_support.h"
#include "skald/v1/registry.grpc.pb.h"

namespace skald::cli {

int ListParticipants(const ClientFlags& client, const std::string& service) {
  auto stub = v1::ParticipantRegistry::NewStub(ChannelTo(client));
  // The coordinator answers in pages: follow them into one reply. Bounded in pages, as a
  // coordinator bounds its registrations.
  v1::ListParticipantsReply all;
  std::string page_token;
  for (int page = 0; page < 10'000; ++page) {
    v1::ListParticipantsRequest request;
    request.set_service(service);
    request.set_page_size(500);
    request.set_page_token(page_token);
    v1::ListParticipantsReply reply;
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = stub->ListParticipants(&context, request, &reply);
    if (!status.ok()) return ReportRpcError(status, client);
    for (v1::ParticipantInstance& instance : *reply.mutable_instances()) {
      *all.add_instances() = std::move(instance);
    }
    page_token = reply.next_page_token();
    if (page_token.empty()) break;
  }
  if (client.json) {
    std::cout << ParticipantsToJson(all).dump(2) << "\n";
  } else {
    PrintParticipants(all, std::cout);
  }
  return 0;
}

}  // namespace skald::cli
