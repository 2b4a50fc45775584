#include "tests/support/child_process.h"

#include <signal.h>

#include <cerrno>

#include "gtest/gtest.h"
#include "tests/support/ready_file.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace skald::testing {
namespace {

TEST(ChildProcessTest, ReportsExitCodeAndLogsOutput) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ChildProcess> child,
      ChildProcess::Spawn({"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7"},
                          dir.File("child.log")));
  EXPECT_EQ(child->WaitForExit(absl::Seconds(10)), 7);
  EXPECT_TRUE(child->HasExited());
  EXPECT_EQ(ReadFileTail(dir.File("child.log")), "to-stdout\nto-stderr\n");
}

TEST(ChildProcessTest, PassesEnvironmentAndWorkingDirectory) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ChildProcessOptions options;
  options.argv = {"/bin/sh", "-c", "echo $SKALD_CHILD_TEST; pwd"};
  options.log_path = dir.File("child.log");
  options.env = {{"SKALD_CHILD_TEST", "value"}};
  options.working_dir = dir.path();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> child, ChildProcess::Spawn(options));
  EXPECT_EQ(child->WaitForExit(absl::Seconds(10)), 0);
  EXPECT_EQ(ReadFileTail(dir.File("child.log")), "value\n" + dir.path() + "\n");
}

TEST(ChildProcessTest, KillEndsAProcessAndSignalsAfterwardsFail) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> child,
                       ChildProcess::Spawn({"sleep", "30"}, dir.File("child.log")));
  EXPECT_EQ(child->WaitForExit(absl::Milliseconds(50)), std::nullopt);
  EXPECT_FALSE(child->HasExited());
  ASSERT_OK(child->Kill());
  EXPECT_EQ(child->WaitForExit(absl::Seconds(10)), 128 + SIGKILL);
  EXPECT_EQ(child->Terminate().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ChildProcessTest, TerminateSendsSigterm) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> child,
                       ChildProcess::Spawn({"sleep", "30"}, dir.File("child.log")));
  ASSERT_OK(child->Terminate());
  EXPECT_EQ(child->WaitForExit(absl::Seconds(10)), 128 + SIGTERM);
}

TEST(ChildProcessTest, PeekSeesExitWithoutReaping) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> child,
                       ChildProcess::Spawn({"/bin/sh", "-c", "exit 5"}, dir.File("child.log")));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!child->HasExited() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(child->PeekExitStatus(), 5);
  EXPECT_EQ(::kill(child->pid(), 0), 0) << "a zombie is not reaped yet";
  EXPECT_EQ(child->WaitForExit(absl::ZeroDuration()), 5);
}

TEST(ChildProcessTest, DestructorKillsAndReaps) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  pid_t pid = 0;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> child,
                         ChildProcess::Spawn({"sleep", "30"}, dir.File("child.log")));
    pid = child->pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(ChildProcessTest, MissingProgramIsNotFound) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn({"/nonexistent/skald-no-such-program"}, dir.File("child.log"));
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound) << child.status();
}

TEST(ChildProcessTest, UnwritableLogIsAnError) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn({"true"}, "/nonexistent-dir/child.log");
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition) << child.status();
}

}  // namespace
}  // namespace skald::testing
