// The one place the SDK opens a channel to the coordinator: every client of the
// coordinator's APIs in the SDK (registration, saga starts, step completion) goes through it,
// so that TLS, the token and the address list are handled alike.

#ifndef SKALD_PARTICIPANT_SDK_SRC_COORDINATOR_CHANNEL_H_
#define SKALD_PARTICIPANT_SDK_SRC_COORDINATOR_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "skald/coordinator_endpoint.h"

namespace skald {

// A channel to the coordinators at `endpoint.address` (one "host:port", a DNS name with
// several records, or a list "a:7700,b:7700": calls go round-robin to those that are up;
// tls/address_list.h) with its TLS files (checked now: a missing or unreadable file is
// InvalidArgument naming it, as is an address list that cannot be used). `args` adds channel
// arguments (e.g. reconnect backoff).
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewCoordinatorChannel(
    const CoordinatorEndpoint& endpoint, grpc::ChannelArguments args = {});

// Adds the endpoint's token to a call, if it has one.
void AuthorizeCall(grpc::ClientContext& context, const CoordinatorEndpoint& endpoint);

}  // namespace skald

#endif  // SKALD_PARTICIPANT_SDK_SRC_COORDINATOR_CHANNEL_H_
