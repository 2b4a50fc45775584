#include "coordinator/devdb/subprocess.h"

#include <signal.h>

#include <filesystem>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace skald::devdb {
namespace {

TEST(RunCommandTest, CapturesStdoutStderrAndExitCode) {
  ASSERT_OK_AND_ASSIGN(CommandResult result,
                       RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.output, "out\nerr\n");
}

TEST(RunCommandTest, ArgumentsAreNotInterpretedByAShell) {
  ASSERT_OK_AND_ASSIGN(testing::TempDir dir, testing::TempDir::Create());
  const std::string marker = dir.File("injected");
  ASSERT_OK_AND_ASSIGN(CommandResult result,
                       RunCommand({"printf", "%s|", "$(touch " + marker + ")", "a b;c"}));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "$(touch " + marker + ")|a b;c|");
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(RunCommandTest, AppliesEnvironmentAndWorkingDirectory) {
  RunOptions options;
  options.env = {{"SKALD_RUN_COMMAND_TEST", "hello"}};
  options.working_dir = "/";
  ASSERT_OK_AND_ASSIGN(CommandResult result,
                       RunCommand({"/bin/sh", "-c", "echo $SKALD_RUN_COMMAND_TEST; pwd"}, options));
  EXPECT_EQ(result.output, "hello\n/\n");
}

TEST(RunCommandTest, MissingProgramIsNotFound) {
  absl::StatusOr<CommandResult> result = RunCommand({"/nonexistent/skald-no-such-program"});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(result.status().message().find("/nonexistent/skald-no-such-program"), std::string::npos)
      << result.status();
}

TEST(RunCommandTest, TimesOutAndKills) {
  const absl::Time start = absl::Now();
  RunOptions options;
  options.timeout = absl::Milliseconds(200);
  absl::StatusOr<CommandResult> result =
      RunCommand({"/bin/sh", "-c", "echo before-sleep; sleep 30"}, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(result.status().message().find("before-sleep"), std::string::npos) << result.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(RunCommandTest, ReturnsWhenCommandExitsEvenIfItsDaemonHoldsTheOutput) {
  const absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(CommandResult result, RunCommand({"/bin/sh", "-c", "sleep 30 & echo $!"}));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  int daemon = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(result.output), &daemon))
      << result.output;
  ::kill(daemon, SIGKILL);
}

TEST(RunCommandTest, ReportsDeathBySignal) {
  ASSERT_OK_AND_ASSIGN(CommandResult result, RunCommand({"/bin/sh", "-c", "kill -9 $$"}));
  EXPECT_EQ(result.exit_code, 128 + SIGKILL);
}

TEST(RunCommandTest, KeepsOnlyTheEndOfLongOutput) {
  RunOptions options;
  options.max_output_bytes = 1000;
  ASSERT_OK_AND_ASSIGN(
      CommandResult result,
      RunCommand({"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo END"}, options));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_LE(result.output.size(), 1003u);
  EXPECT_TRUE(result.output.ends_with("aaEND\n")) << result.output.substr(0, 50);
}

TEST(DescribeCommandTest, QuotesArgumentsWithSpecialCharacters) {
  EXPECT_EQ(DescribeCommand({"pg_ctl", "-D", "/tmp/a b", "it's"}),
            "pg_ctl -D '/tmp/a b' 'it'\\''s'");
}

}  // namespace
}  // namespace skald::devdb
