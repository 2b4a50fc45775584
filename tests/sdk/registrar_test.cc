// The registration client's pure helpers (participant-sdk/src/registrar.h). Its behaviour
// against a registry is in registration_test.cc.

#include "registrar.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace skald {
namespace {

using std::chrono::milliseconds;
using ::testing::StartsWith;

v1::RegisterReply Reply(int ttl_ms, int renew_interval_ms) {
  v1::RegisterReply reply;
  reply.set_ttl_ms(ttl_ms);
  reply.set_renew_interval_ms(renew_interval_ms);
  return reply;
}

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

TEST(RenewIntervalTest, IsTheIntervalTheCoordinatorAsksFor) {
  EXPECT_EQ(RenewInterval(Reply(9'000, 250), milliseconds(30'000)), milliseconds(250));
}

TEST(RenewIntervalTest, FallsBackToAThirdOfTheGrantedTtl) {
  EXPECT_EQ(RenewInterval(Reply(9'000, 0), milliseconds(30'000)), milliseconds(3'000));
}

TEST(RenewIntervalTest, FallsBackToAThirdOfTheRequestedTtl) {
  EXPECT_EQ(RenewInterval(Reply(0, 0), milliseconds(6'000)), milliseconds(2'000));
}

TEST(RenewIntervalTest, FallsBackToAThirdOfTenSeconds) {
  EXPECT_EQ(RenewInterval(Reply(0, 0), milliseconds(0)), milliseconds(3'333));
}

TEST(RenewIntervalTest, IsNeverBelowTenMilliseconds) {
  EXPECT_EQ(RenewInterval(Reply(0, 1), milliseconds(0)), milliseconds(10));
  EXPECT_EQ(RenewInterval(Reply(0, -5), milliseconds(3)), milliseconds(10));
}

TEST(DefaultAdvertiseAddressTest, KeepsAConcreteHost) {
  EXPECT_EQ(DefaultAdvertiseAddress("127.0.0.1:7803"), "127.0.0.1:7803");
  EXPECT_EQ(DefaultAdvertiseAddress("inventory-1.internal:7803"), "inventory-1.internal:7803");
  EXPECT_EQ(DefaultAdvertiseAddress("[::1]:7803"), "[::1]:7803");
}

TEST(DefaultAdvertiseAddressTest, ReplacesAWildcardHostByTheHostName) {
  const std::string expected = HostName() + ":7803";
  EXPECT_EQ(DefaultAdvertiseAddress("0.0.0.0:7803"), expected);
  EXPECT_EQ(DefaultAdvertiseAddress("[::]:7803"), expected);
  EXPECT_EQ(DefaultAdvertiseAddress(":::7803"), expected);
  EXPECT_EQ(DefaultAdvertiseAddress(":7803"), expected);
}

TEST(NewInstanceIdTest, NamesHostAndProcessAndDiffersPerCall) {
  const std::string id = NewInstanceId();
  EXPECT_THAT(id, StartsWith(HostName() + "/" + std::to_string(getpid()) + "/"));
  EXPECT_EQ(id.size(), HostName().size() + 1 + std::to_string(getpid()).size() + 1 + 8);
  EXPECT_NE(NewInstanceId(), id);
}

}  // namespace
}  // namespace skald
