#include "coordinator/core/destination_allowlist.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace skald::core {
namespace {

// inet_pton and inet_ntop only convert between text and bytes: no I/O.
std::optional<IpAddress> ParseBare(const std::string& text) {
  IpAddress address;
  if (inet_pton(AF_INET, text.c_str(), address.bytes.data()) == 1) return address;
  if (inet_pton(AF_INET6, text.c_str(), address.bytes.data()) != 1) return std::nullopt;
  static constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0,    0,
                                                            0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), address.bytes.begin())) {
    IpAddress v4;
    std::copy(address.bytes.begin() + 12, address.bytes.end(), v4.bytes.begin());
    return v4;
  }
  address.v4 = false;
  return address;
}

bool InV4(const IpAddress& a, uint8_t first, uint8_t second_from, uint8_t second_to) {
  return a.v4 && a.bytes[0] == first && a.bytes[1] >= second_from && a.bytes[1] <= second_to;
}

std::string Normalized(std::string_view host) {
  std::string name(host);
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::ranges::transform(name, name.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

// Host names as URLs carry them: letters, digits, '-', '.' and '_' (seen in internal
// names), nothing else.
bool IsHostName(std::string_view name) {
  return !name.empty() && name.size() <= 253 && std::ranges::all_of(name, [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

absl::Status AddItem(std::string_view item, std::vector<Cidr>& networks,
                     std::vector<std::string>& hosts) {
  const auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError("--notify-allow: \"" + std::string(item) + "\" " +
                                      std::string(why));
  };
  if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
    auto network = ParseIpAddress(item.substr(0, slash));
    const std::string_view bits = item.substr(slash + 1);
    int prefix = -1;
    auto [end, error] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (!network) return invalid("is not an IP address, a network (CIDR) or a host name");
    if (error != std::errc() || end != bits.data() + bits.size()) {
      return invalid("is not a network like 10.0.0.0/8 or fd00::/8");
    }
    if (prefix < 0 || prefix > (network->v4 ? 32 : 128)) {
      return invalid("has a prefix length out of range (0-32 for IPv4, 0-128 for IPv6)");
    }
    networks.push_back({*network, prefix});
    return absl::OkStatus();
  }
  if (auto address = ParseIpAddress(item)) {
    networks.push_back({*address, address->v4 ? 32 : 128});
    return absl::OkStatus();
  }
  std::string name = Normalized(item);
  if (name.starts_with("*.")) name.erase(0, 1);
  if (!IsHostName(name.starts_with('.') ? name.substr(1) : name)) {
    return invalid("is not an IP address, a network (CIDR) or a host name");
  }
  hosts.push_back(std::move(name));
  return absl::OkStatus();
}

}  // namespace

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
  return text;
}

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  return ParseBare(std::string(text));
}

AddressRange RangeOf(const IpAddress& a) {
  if (a.v4) {
    if (a.bytes[0] == 127) return AddressRange::kLoopback;
    if (a.bytes[0] == 0) return AddressRange::kUnspecified;
    if (InV4(a, 169, 254, 254)) return AddressRange::kLinkLocal;
    if (a.bytes[0] == 10 || InV4(a, 172, 16, 31) || InV4(a, 192, 168, 168)) {
      return AddressRange::kPrivate;
    }
    return AddressRange::kPublic;
  }
  const bool zero_until_last =
      std::all_of(a.bytes.begin(), a.bytes.end() - 1, [](uint8_t b) { return b == 0; });
  if (zero_until_last && a.bytes[15] == 1) return AddressRange::kLoopback;
  if (zero_until_last && a.bytes[15] == 0) return AddressRange::kUnspecified;
  if (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80) return AddressRange::kLinkLocal;
  if ((a.bytes[0] & 0xfe) == 0xfc) return AddressRange::kPrivate;
  return AddressRange::kPublic;
}

std::string_view RangeName(AddressRange range) {
  switch (range) {
    case AddressRange::kLoopback:
      return "loopback";
    case AddressRange::kLinkLocal:
      return "link-local";
    case AddressRange::kPrivate:
      return "private";
    case AddressRange::kUnspecified:
      return "unspecified";
    case AddressRange::kPublic:
      break;
  }
  return "public";
}

bool Cidr::Contains(const IpAddress& address) const {
  if (address.v4 != network.v4) return false;
  const int full_bytes = prefix_bits / 8;
  if (!std::equal(network.bytes.begin(), network.bytes.begin() + full_bytes,
                  address.bytes.begin())) {
    return false;
  }
  const int rest = prefix_bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (network.bytes[full_bytes] & mask) == (address.bytes[full_bytes] & mask);
}

absl::StatusOr<DestinationAllowlist> DestinationAllowlist::Parse(
    const std::vector<std::string>& entries) {
  DestinationAllowlist list;
  for (const std::string& entry : entries) {
    std::string_view rest = entry;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (item.empty()) continue;
      if (absl::Status s = AddItem(item, list.networks_, list.hosts_); !s.ok()) return s;
    }
  }
  return list;
}

void DestinationAllowlist::AllowLoopback() {
  networks_.push_back({*ParseIpAddress("127.0.0.0"), 8});
  networks_.push_back({*ParseIpAddress("::1"), 128});
}

absl::Status DestinationAllowlist::Check(std::string_view host, const IpAddress& address) const {
  const AddressRange range = RangeOf(address);
  if (range == AddressRange::kPublic) return absl::OkStatus();
  if (std::ranges::any_of(networks_, [&](const Cidr& n) { return n.Contains(address); })) {
    return absl::OkStatus();
  }
  const std::string name = Normalized(host);
  if (std::ranges::any_of(hosts_, [&](const std::string& allowed) {
        return allowed.starts_with('.') ? name.ends_with(allowed) : name == allowed;
      })) {
    return absl::OkStatus();
  }
  const std::string shown = address.ToString();
  std::string how = "--notify-allow " + shown;
  std::string what = shown;
  if (!ParseIpAddress(host)) {
    what = std::string(host) + " resolves to " + shown;
    how += " or --notify-allow " + std::string(host);
  }
  return absl::PermissionDeniedError(what + ", a " + std::string(RangeName(range)) +
                                     " address: refused (allow it with " + how + ")");
}

std::string DestinationAllowlist::ToString() const {
  std::string text;
  const auto add = [&](const std::string& item) {
    if (!text.empty()) text += ",";
    text += item;
  };
  for (const Cidr& network : networks_) {
    add(network.network.ToString() + "/" + std::to_string(network.prefix_bits));
  }
  for (const std::string& host : hosts_) add(host.starts_with('.') ? "*" + host : host);
  return text;
}

}  // namespace skald::core
