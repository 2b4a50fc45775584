#include "coordinator/core/destination_allowlist.h"

#include <gtest/gtest.h>

namespace skald::core {
namespace {

IpAddress Ip(std::string_view text) {
  auto address = ParseIpAddress(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

DestinationAllowlist List(std::vector<std::string> entries) {
  auto list = DestinationAllowlist::Parse(entries);
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? *list : DestinationAllowlist{};
}

TEST(ParseIpAddressTest, ReadsBothFamiliesAndUnwrapsMappedIpv4) {
  EXPECT_TRUE(Ip("192.0.2.1").v4);
  EXPECT_EQ(Ip("192.0.2.1").ToString(), "192.0.2.1");
  EXPECT_FALSE(Ip("2001:db8::1").v4);
  EXPECT_EQ(Ip("[2001:db8::1]").ToString(), "2001:db8::1");
  // ::ffff:10.0.0.1 reaches 10.0.0.1: it must be judged as that address.
  EXPECT_EQ(Ip("::ffff:10.0.0.1"), Ip("10.0.0.1"));
  EXPECT_FALSE(ParseIpAddress("hooks.example").has_value());
  EXPECT_FALSE(ParseIpAddress("").has_value());
  EXPECT_FALSE(ParseIpAddress("10.0.0.256").has_value());
  EXPECT_FALSE(ParseIpAddress("[::1").has_value());
}

TEST(RangeOfTest, NamesEveryRefusedRange) {
  EXPECT_EQ(RangeOf(Ip("127.0.0.1")), AddressRange::kLoopback);
  EXPECT_EQ(RangeOf(Ip("127.255.0.9")), AddressRange::kLoopback);
  EXPECT_EQ(RangeOf(Ip("::1")), AddressRange::kLoopback);
  EXPECT_EQ(RangeOf(Ip("::ffff:127.0.0.1")), AddressRange::kLoopback);
  EXPECT_EQ(RangeOf(Ip("169.254.169.254")), AddressRange::kLinkLocal);
  EXPECT_EQ(RangeOf(Ip("fe80::1")), AddressRange::kLinkLocal);
  EXPECT_EQ(RangeOf(Ip("febf::1")), AddressRange::kLinkLocal);
  EXPECT_EQ(RangeOf(Ip("10.20.30.40")), AddressRange::kPrivate);
  EXPECT_EQ(RangeOf(Ip("172.16.0.1")), AddressRange::kPrivate);
  EXPECT_EQ(RangeOf(Ip("172.31.255.255")), AddressRange::kPrivate);
  EXPECT_EQ(RangeOf(Ip("192.168.1.1")), AddressRange::kPrivate);
  EXPECT_EQ(RangeOf(Ip("fc00::1")), AddressRange::kPrivate);
  EXPECT_EQ(RangeOf(Ip("fd12:3456::1")), AddressRange::kPrivate);
  EXPECT_EQ(RangeOf(Ip("0.0.0.0")), AddressRange::kUnspecified);
  EXPECT_EQ(RangeOf(Ip("::")), AddressRange::kUnspecified);
  // Just outside each range.
  EXPECT_EQ(RangeOf(Ip("172.15.255.255")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("172.32.0.0")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("192.169.0.1")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("169.253.0.1")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("11.0.0.1")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("128.0.0.1")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("fec0::1")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("fe00::1")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("fe00::1")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("::2")), AddressRange::kPublic);
  EXPECT_EQ(RangeOf(Ip("2001:db8::1")), AddressRange::kPublic);
}

TEST(CidrTest, ComparesTheLeadingBitsOfTheSameFamilyOnly) {
  const Cidr twelve{Ip("172.16.0.0"), 12};
  EXPECT_TRUE(twelve.Contains(Ip("172.16.0.1")));
  EXPECT_TRUE(twelve.Contains(Ip("172.31.255.255")));
  EXPECT_FALSE(twelve.Contains(Ip("172.32.0.0")));
  EXPECT_FALSE(twelve.Contains(Ip("::ffff:172.32.0.0")));
  EXPECT_TRUE(twelve.Contains(Ip("::ffff:172.20.0.1")));
  EXPECT_FALSE(twelve.Contains(Ip("ac10::1")));  // The same first bytes, as IPv6.
  const Cidr all{Ip("0.0.0.0"), 0};
  EXPECT_TRUE(all.Contains(Ip("10.0.0.1")));
  EXPECT_FALSE(all.Contains(Ip("::1")));
  const Cidr v6{Ip("fd00::"), 8};
  EXPECT_TRUE(v6.Contains(Ip("fdff::1")));
  EXPECT_FALSE(v6.Contains(Ip("fc00::1")));
  const Cidr host{Ip("10.1.2.3"), 32};
  EXPECT_TRUE(host.Contains(Ip("10.1.2.3")));
  EXPECT_FALSE(host.Contains(Ip("10.1.2.4")));
}

TEST(DestinationAllowlistTest, RefusesEveryNonPublicRangeByDefault) {
  const DestinationAllowlist none;
  EXPECT_TRUE(none.Check("hooks.example.com", Ip("93.184.216.34")).ok());
  EXPECT_TRUE(none.Check("2001:db8::1", Ip("2001:db8::1")).ok());
  for (const char* address :
       {"127.0.0.1", "::1", "169.254.169.254", "fe80::1", "10.0.0.5", "172.16.9.9", "192.168.0.1",
        "fd00::1", "0.0.0.0", "::", "::ffff:10.0.0.5"}) {
    const absl::Status refused = none.Check("hooks.example.com", Ip(address));
    EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << address;
  }
  const absl::Status status = none.Check("hooks.example.com", Ip("10.1.2.3"));
  EXPECT_EQ(status.message(),
            "hooks.example.com resolves to 10.1.2.3, a private address: refused (allow it with "
            "--notify-allow 10.1.2.3 or --notify-allow hooks.example.com)");
  EXPECT_EQ(none.Check("169.254.169.254", Ip("169.254.169.254")).message(),
            "169.254.169.254, a link-local address: refused (allow it with --notify-allow "
            "169.254.169.254)");
}

TEST(DestinationAllowlistTest, OpensListedAddressesNetworksAndHostsOnly) {
  const DestinationAllowlist list =
      List({"10.0.0.0/8, 192.168.1.7", "fd00::/8", "Hooks.Internal.", "*.corp.example"});
  EXPECT_TRUE(list.Check("x", Ip("10.200.0.1")).ok());
  EXPECT_TRUE(list.Check("x", Ip("192.168.1.7")).ok());
  EXPECT_FALSE(list.Check("x", Ip("192.168.1.8")).ok());
  EXPECT_TRUE(list.Check("x", Ip("fd01::2")).ok());
  EXPECT_FALSE(list.Check("x", Ip("fc00::2")).ok());
  EXPECT_TRUE(list.Check("hooks.internal", Ip("172.16.0.3")).ok());
  EXPECT_TRUE(list.Check("HOOKS.internal.", Ip("127.0.0.1")).ok());
  EXPECT_FALSE(list.Check("other.internal", Ip("172.16.0.3")).ok());
  EXPECT_TRUE(list.Check("a.corp.example", Ip("172.16.0.3")).ok());
  EXPECT_TRUE(list.Check("b.a.corp.example", Ip("172.16.0.3")).ok());
  EXPECT_FALSE(list.Check("corp.example", Ip("172.16.0.3")).ok());
  EXPECT_FALSE(list.Check("evilcorp.example", Ip("172.16.0.3")).ok());
  EXPECT_FALSE(list.Check("x", Ip("127.0.0.1")).ok());
  EXPECT_EQ(list.ToString(), "10.0.0.0/8,192.168.1.7/32,fd00::/8,hooks.internal,*.corp.example");
}

TEST(DestinationAllowlistTest, AllowLoopbackOpensLoopbackOnly) {
  DestinationAllowlist dev;
  dev.AllowLoopback();
  EXPECT_TRUE(dev.Check("localhost", Ip("127.0.0.1")).ok());
  EXPECT_TRUE(dev.Check("localhost", Ip("127.1.2.3")).ok());
  EXPECT_TRUE(dev.Check("[::1]", Ip("::1")).ok());
  EXPECT_TRUE(dev.Check("x", Ip("::ffff:127.0.0.1")).ok());
  EXPECT_FALSE(dev.Check("x", Ip("10.0.0.1")).ok());
  EXPECT_FALSE(dev.Check("x", Ip("169.254.169.254")).ok());
  EXPECT_FALSE(dev.Check("x", Ip("0.0.0.0")).ok());
}

TEST(DestinationAllowlistTest, RefusesWhatIsNeitherAddressNetworkNorHost) {
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "host/8",
                          "http://hooks.example", "a b", "*.", "10.0.0.0/-1"}) {
    auto list = DestinationAllowlist::Parse({bad});
    EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(DestinationAllowlist::Parse({"10.0.0.0/33"}).status().message(),
            "--notify-allow: \"10.0.0.0/33\" has a prefix length out of range (0-32 for IPv4, "
            "0-128 for IPv6)");
  EXPECT_TRUE(DestinationAllowlist::Parse({"", " , ,"}).ok());
}

}  // namespace
}  // namespace skald::core
