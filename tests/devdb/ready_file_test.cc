#include "tests/support/ready_file.h"

#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace skald::testing {
namespace {

TEST(WaitForReadyFileTest, ReturnsTrimmedContentsOnceWritten) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  const std::string ready = dir.File("ready");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> child,
                       ChildProcess::Spawn({"/bin/sh", "-c",
                                            "sleep 0.2; printf ' 127.0.0.1:40123\\n' > \"$0.tmp\"; "
                                            "mv \"$0.tmp\" \"$0\"; exec sleep 30",
                                            ready},
                                           dir.File("child.log")));
  ASSERT_OK_AND_ASSIGN(std::string address,
                       WaitForReadyFile(ready, absl::Seconds(10), child.get()));
  EXPECT_EQ(address, "127.0.0.1:40123");
}

TEST(WaitForReadyFileTest, TimesOut) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> result = WaitForReadyFile(dir.File("never"), absl::Milliseconds(100));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(WaitForReadyFileTest, TimeoutWithAWatchedProcessShowsItsLog) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> child,
                       ChildProcess::Spawn({"/bin/sh", "-c", "echo still-starting; exec sleep 30"},
                                           dir.File("child.log")));
  absl::StatusOr<std::string> result =
      WaitForReadyFile(dir.File("never"), absl::Milliseconds(300), child.get());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(result.status().message().find("still-starting"), std::string::npos) << result.status();
}

TEST(WaitForReadyFileTest, FailsEarlyWhenTheWatchedProcessExits) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ChildProcess> child,
                       ChildProcess::Spawn({"/bin/sh", "-c", "echo cannot-bind-port >&2; exit 3"},
                                           dir.File("child.log")));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> result =
      WaitForReadyFile(dir.File("ready"), absl::Seconds(60), child.get());
  ASSERT_FALSE(result.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("exited with status 3"), std::string::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("cannot-bind-port"), std::string::npos)
      << result.status();
  EXPECT_EQ(child->WaitForExit(absl::Seconds(1)), 3);
}

TEST(ReadFileTailTest, ReturnsTheEnd) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create());
  std::ofstream(dir.File("big")) << std::string(10000, 'x') << "THE-END";
  EXPECT_EQ(ReadFileTail(dir.File("big"), 10), "...xxxTHE-END");
  EXPECT_EQ(ReadFileTail(dir.File("big"), 100000).size(), 10007u);
  EXPECT_NE(ReadFileTail(dir.File("missing")).find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace skald::testing
