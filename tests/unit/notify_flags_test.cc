// The notification flags of serve and dev: --notify-allow, --notify-workers, --notify-timeout.

#include <gtest/gtest.h>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/serve_command.h"

namespace skald::cli {
namespace {

core::IpAddress Ip(std::string_view text) { return *core::ParseIpAddress(text); }

TEST(NotifyFlagsTest, ServeRefusesLoopbackAndPrivateUnlessListed) {
  server::ServerOptions options;
  ASSERT_TRUE(ApplyNotifyFlags(NotifyFlags{}, options).ok());
  EXPECT_FALSE(options.notify_allow.Check("localhost", Ip("127.0.0.1")).ok());
  EXPECT_FALSE(options.notify_allow.Check("x", Ip("10.1.2.3")).ok());
  EXPECT_TRUE(options.notify_allow.Check("x", Ip("93.184.216.34")).ok());
  EXPECT_EQ(options.notifier.workers, 8);
  EXPECT_EQ(options.notifier.request_timeout, std::chrono::seconds(10));

  NotifyFlags flags;
  flags.notify_allow = {"10.0.0.0/8,hooks.internal", "::1"};
  flags.notify_workers = 3;
  flags.notify_timeout = "2s";
  ASSERT_TRUE(ApplyNotifyFlags(flags, options).ok());
  EXPECT_TRUE(options.notify_allow.Check("x", Ip("10.1.2.3")).ok());
  EXPECT_TRUE(options.notify_allow.Check("hooks.internal", Ip("192.168.0.9")).ok());
  EXPECT_TRUE(options.notify_allow.Check("[::1]", Ip("::1")).ok());
  EXPECT_FALSE(options.notify_allow.Check("x", Ip("127.0.0.1")).ok());
  EXPECT_EQ(options.notifier.workers, 3);
  EXPECT_EQ(options.notifier.request_timeout, std::chrono::seconds(2));
}

TEST(NotifyFlagsTest, RefusesWhatIsNotAnAllowlistEntryOrADeadline) {
  server::ServerOptions options;
  NotifyFlags flags;
  flags.notify_allow = {"10.0.0.0/8", "http://hooks"};
  EXPECT_EQ(std::string(ApplyNotifyFlags(flags, options).message()),
            "--notify-allow: \"http://hooks\" is not an IP address, a network (CIDR) or a host "
            "name");
  for (const char* timeout : {"0s", "6m", "soon"}) {
    NotifyFlags bad;
    bad.notify_timeout = timeout;
    const absl::Status status = ApplyNotifyFlags(bad, options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << timeout;
    EXPECT_EQ(status.message().rfind("--notify-timeout: ", 0), 0u) << status.message();
  }
}

}  // namespace
}  // namespace skald::cli
