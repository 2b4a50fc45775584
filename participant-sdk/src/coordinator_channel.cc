#include "coordinator_channel.h"

#include <string>
#include <utility>

#include "tls/address_list.h"
#include "tls/grpc_credentials.h"

namespace skald {

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewCoordinatorChannel(
    const CoordinatorEndpoint& endpoint, grpc::ChannelArguments args) {
  if (endpoint.address.empty()) {
    return absl::InvalidArgumentError("coordinator address is empty");
  }
  auto credentials = tls::MakeChannelCredentials({.ca_file = endpoint.tls.ca_file,
                                                  .cert_file = endpoint.tls.cert_file,
                                                  .key_file = endpoint.tls.key_file});
  if (!credentials.ok()) {
    return absl::InvalidArgumentError("coordinator tls: " +
                                      std::string(credentials.status().message()));
  }
  absl::StatusOr<std::string> target = tls::BalancedTarget(endpoint.address, args);
  if (!target.ok()) return target.status();
  return grpc::CreateCustomChannel(*target, std::move(*credentials), args);
}

void AuthorizeCall(grpc::ClientContext& context, const CoordinatorEndpoint& endpoint) {
  if (!endpoint.token.empty()) context.AddMetadata("authorization", "Bearer " + endpoint.token);
}

}  // namespace skald
