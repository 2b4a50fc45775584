#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Where notifications and alerts may be sent, as pure rules (no resolving, no sockets): a
// callback URL is chosen by whoever starts a saga, so without a rule any client could make
// the coordinator POST into its own network (server-side request forgery): the database's
// host, a cloud metadata service at 169.254.169.254, an admin port on loopback. The
// notifier resolves a destination's host itself, checks every address with
// DestinationAllowlist::Check, and connects only to a checked address (see
// docs/notifications.md).
namespace skald::core {

// An IPv4 or IPv6 address. IPv4 is kept in the first 4 bytes; an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is parsed as the IPv4 address it carries, so it cannot be used to slip
// a private IPv4 address past the rules.
struct IpAddress {
  bool v4 = true;
  std::array<uint8_t, 16> bytes{};

  // "10.0.0.1", "fe80::1".
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

// Returns the address written in `text` ("192.0.2.1", "2001:db8::1", also bracketed
// "[::1]"), or nullopt when it is not an IP address literal (e.g. a host name).
std::optional<IpAddress> ParseIpAddress(std::string_view text);

// Why an address is not a public one, or kPublic.
enum class AddressRange {
  kPublic,
  // 127.0.0.0/8, ::1.
  kLoopback,
  // 169.254.0.0/16 (cloud metadata services live there), fe80::/10.
  kLinkLocal,
  // 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7.
  kPrivate,
  // 0.0.0.0/8 ("this network": connecting to 0.0.0.0 reaches the local host), ::.
  kUnspecified,
};

// Returns the range `address` belongs to.
AddressRange RangeOf(const IpAddress& address);

// "loopback", "link-local", "private", "unspecified", "public".
std::string_view RangeName(AddressRange range);

// A network: an address and how many leading bits of it count.
struct Cidr {
  IpAddress network;
  int prefix_bits = 0;

  // Returns true when `address` is in this network (same family, same leading bits).
  bool Contains(const IpAddress& address) const;
};

// The destinations that may be reached although their addresses are not public. Public
// addresses are always allowed: the list only opens the loopback, link-local, private and
// unspecified ranges, which are refused otherwise.
class DestinationAllowlist {
 public:
  // Returns the list made of `entries`, each one or more comma-separated items:
  // an IP address ("10.1.2.3", "::1"), a network in CIDR form ("10.0.0.0/8",
  // "fd00::/8"), a host name ("hooks.internal", compared without case and a trailing dot),
  // or "*.domain" (any host name ending in ".domain"). Empty items are ignored.
  // INVALID_ARGUMENT naming the item when one is none of these.
  static absl::StatusOr<DestinationAllowlist> Parse(const std::vector<std::string>& entries);

  // Also allows loopback (127.0.0.0/8 and ::1), as `skald dev` does.
  void AllowLoopback();

  // Returns OK when a notification for `host` (as written in the URL) may be sent to
  // `address` (one of the addresses `host` resolved to, or the literal itself): the
  // address is public, or it is in a listed network, or `host` is a listed name.
  // Otherwise PERMISSION_DENIED saying which address of which range was refused and how
  // to allow it, e.g. `hooks.example resolves to 10.1.2.3, a private address: refused
  // (allow it with --notify-allow 10.1.2.3 or --notify-allow hooks.example)`.
  absl::Status Check(std::string_view host, const IpAddress& address) const;

  // The entries, comma-separated, for logs; "" when none.
  std::string ToString() const;

 private:
  std::vector<Cidr> networks_;
  // Lowercase, without a trailing dot; "*.domain" entries as ".domain".
  std::vector<std::string> hosts_;
};

}  // namespace skald::core
