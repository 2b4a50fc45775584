// A coordinator address list ("a:7700,b:7700,c:7700", or one DNS name with several
// records) as one gRPC channel target that spreads calls round-robin over every address and
// passes over those that are down, so that a client or participant keeps working when any
// one coordinator dies. Shared by the `skald` CLI and the participant SDK: both reach the
// coordinators the same way.
#ifndef SKALD_TLS_ADDRESS_LIST_H_
#define SKALD_TLS_ADDRESS_LIST_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"

namespace skald::tls {

// At most this many addresses in one list: a list is typed by a person or written in a
// config file, and every address costs a connection.
inline constexpr int kMaxAddresses = 64;

// The service config of every channel to the coordinators: round_robin, whose picker skips
// addresses that are not connected (gRPC's default, pick_first, would stay on one).
inline constexpr char kRoundRobinServiceConfig[] =
    R"({"loadBalancingConfig":[{"round_robin":{}}]})";

// Returns the gRPC target for `address_list` and sets on `args` what the channel needs to use
// it: the round-robin service config and, for a list, the authority (the first entry's
// "host:port", which a TLS certificate must name, as for a single address).
//   - One entry ("host:port", or a gRPC target with a scheme such as "dns:///name:7700"):
//     the target is the entry itself; gRPC's DNS resolver gives every record of the name,
//     and round_robin uses them all.
//   - Several entries separated by commas (spaces around them ignored): each an IPv4
//     literal, a bracketed IPv6 literal or a host name, with a port. Host names are resolved
//     now (their IPv4 addresses when they have any); the target is gRPC's static
//     "ipv4:a:p,b:p" or "ipv6:[a]:p,[b]:p" list, which takes one family only.
// Returns InvalidArgument naming the entry when an entry is empty, has no port, a bad port,
// or a host name that does not resolve; when the list mixes IPv4 and IPv6 addresses; when it
// has more than kMaxAddresses entries.
absl::StatusOr<std::string> BalancedTarget(const std::string& address_list,
                                           grpc::ChannelArguments& args);

}  // namespace skald::tls

#endif  // SKALD_TLS_ADDRESS_LIST_H_
