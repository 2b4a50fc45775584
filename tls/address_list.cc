#include "tls/address_list.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace skald::tls {
namespace {

enum class Family { kIpv4, kIpv6 };

struct Resolved {
  Family family;
  std::vector<std::string> hosts;  // Numeric, without brackets.
};

struct Entry {
  std::string host;  // Without brackets.
  std::string port;
};

absl::StatusOr<Entry> SplitHostPort(absl::string_view entry) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator address \"", entry, "\": ", why, " (expected host:port)"));
  };
  std::string host;
  absl::string_view port;
  if (!entry.empty() && entry.front() == '[') {
    const size_t close = entry.find(']');
    if (close == absl::string_view::npos || close + 1 >= entry.size() || entry[close + 1] != ':') {
      return bad("an IPv6 address needs \"[address]:port\"");
    }
    host = std::string(entry.substr(1, close - 1));
    port = entry.substr(close + 2);
  } else {
    const size_t colon = entry.rfind(':');
    if (colon == absl::string_view::npos) return bad("no port");
    if (entry.find(':') != colon) return bad("an IPv6 address needs brackets");
    host = std::string(entry.substr(0, colon));
    port = entry.substr(colon + 1);
  }
  int number = 0;
  if (!absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
    return bad("the port is not a number from 1 to 65535");
  }
  if (host.empty()) return bad("no host");
  return Entry{std::move(host), std::string(port)};
}

// Returns the entry's numeric addresses: itself when it is a literal, else what the resolver
// says (its IPv4 addresses when it has any, so that "localhost" fits an IPv4 list).
absl::StatusOr<Resolved> Resolve(const Entry& entry, absl::string_view original) {
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, entry.host.c_str(), &v4) == 1)
    return Resolved{Family::kIpv4, {entry.host}};
  if (inet_pton(AF_INET6, entry.host.c_str(), &v6) == 1) {
    return Resolved{Family::kIpv6, {entry.host}};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int failed = getaddrinfo(entry.host.c_str(), nullptr, &hints, &found); failed != 0) {
    return absl::InvalidArgumentError(absl::StrCat("coordinator address \"", original,
                                                   "\": cannot resolve \"", entry.host,
                                                   "\": ", gai_strerror(failed)));
  }
  Resolved v4s{Family::kIpv4, {}};
  Resolved v6s{Family::kIpv6, {}};
  for (const addrinfo* at = found; at != nullptr; at = at->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (at->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(at->ai_addr)->sin_addr, text,
                sizeof(text));
      v4s.hosts.push_back(text);
    } else if (at->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(at->ai_addr)->sin6_addr, text,
                sizeof(text));
      v6s.hosts.push_back(text);
    }
  }
  freeaddrinfo(found);
  if (!v4s.hosts.empty()) return v4s;
  if (!v6s.hosts.empty()) return v6s;
  return absl::InvalidArgumentError(
      absl::StrCat("coordinator address \"", original, "\": \"", entry.host, "\" has no address"));
}

}  // namespace

absl::StatusOr<std::string> BalancedTarget(const std::string& address_list,
                                           grpc::ChannelArguments& args) {
  std::vector<absl::string_view> entries = absl::StrSplit(address_list, ',');
  for (absl::string_view& entry : entries) entry = absl::StripAsciiWhitespace(entry);
  if (entries.size() > static_cast<size_t>(kMaxAddresses)) {
    return absl::InvalidArgumentError(absl::StrCat("coordinator address list has ", entries.size(),
                                                   " entries; at most ", kMaxAddresses));
  }
  args.SetServiceConfigJSON(std::string(kRoundRobinServiceConfig));
  if (entries.size() == 1) {
    if (entries[0].empty()) return absl::InvalidArgumentError("coordinator address is empty");
    return std::string(entries[0]);
  }
  // Every entry is checked before any is resolved: a typo is reported as such, not as the
  // failed lookup of an earlier name.
  std::vector<Entry> parsed;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("coordinator address list \"", address_list,
                                                     "\": entry ", i + 1, " is empty"));
    }
    absl::StatusOr<Entry> entry = SplitHostPort(entries[i]);
    if (!entry.ok()) return entry.status();
    parsed.push_back(std::move(*entry));
  }
  std::vector<std::string> addresses;
  Family family = Family::kIpv4;
  for (size_t i = 0; i < parsed.size(); ++i) {
    absl::StatusOr<Resolved> resolved = Resolve(parsed[i], entries[i]);
    if (!resolved.ok()) return resolved.status();
    if (i == 0) {
      family = resolved->family;
    } else if (resolved->family != family) {
      return absl::InvalidArgumentError(
          absl::StrCat("coordinator address list \"", address_list,
                       "\" mixes IPv4 and IPv6 addresses; use one family"));
    }
    for (const std::string& host : resolved->hosts) {
      addresses.push_back(family == Family::kIpv4 ? absl::StrCat(host, ":", parsed[i].port)
                                                  : absl::StrCat("[", host, "]:", parsed[i].port));
    }
  }
  // The authority a single-address channel would have had: what TLS checks the
  // certificate against, and what the coordinators see as :authority.
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, std::string(entries[0]));
  return absl::StrCat(family == Family::kIpv4 ? "ipv4:" : "ipv6:", absl::StrJoin(addresses, ","));
}

}  // namespace skald::tls
