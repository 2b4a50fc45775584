// The conformance kit against real participants: the contract on the C++ SDK and on the Go
// SDK passes every check; the same C++ handlers without the barrier fail every check, and the
// driver says which and what it saw. Each participant has a fresh database of its own in the
// test binary's PostgreSQL cluster; everything runs on loopback.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/built_files.h"
#include "tests/support/child_process.h"
#include "tests/support/ready_file.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

const std::set<std::string> kAllChecks = {
    "duplicate-sequential",        "duplicate-concurrent",       "retry-same-key",
    "compensation-without-action", "compensation-before-action", "business-failure-no-effect",
    "reply-after-deadline"};

struct DriverRun {
  int exit_code = -1;
  std::string output;
  std::set<std::string> passed;
  std::set<std::string> failed;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-conformance-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
  }

  // Starts `binary` on a fresh database, listening on a free loopback port; returns its
  // address.
  std::string StartParticipant(const std::string& binary, std::vector<std::string> extra = {}) {
    auto database = FreshDatabase("conformance");
    EXPECT_TRUE(database.ok()) << database.status();
    if (!database.ok()) return "";
    const std::string ready = dir_->path() + "/participant.ready";
    std::vector<std::string> argv = {binary,        "--db",         *database, "--listen",
                                     "127.0.0.1:0", "--ready-file", ready};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto process = ChildProcess::Spawn(argv, dir_->path() + "/participant.log");
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return "";
    participant_ = std::move(*process);
    auto address = WaitForReadyFile(ready, absl::Seconds(30), participant_.get());
    EXPECT_TRUE(address.ok()) << address.status();
    return address.ok() ? *address : "";
  }

  DriverRun RunDriver(const std::string& address) {
    DriverRun run;
    const std::string log = dir_->path() + "/driver.log";
    auto driver = ChildProcess::Spawn({SKALD_CONFORMANCE_BINARY, "--address", address}, log);
    EXPECT_TRUE(driver.ok()) << driver.status();
    if (!driver.ok()) return run;
    const std::optional<int> exit_code = (*driver)->WaitForExit(absl::Seconds(90));
    EXPECT_TRUE(exit_code.has_value()) << "the driver did not finish in 90 s";
    run.exit_code = exit_code.value_or(-1);
    run.output = ReadAll(log);
    std::istringstream lines(run.output);
    for (std::string line; std::getline(lines, line);) {
      // "PASS <name>: <promise>" / "FAIL <name>: <promise>"
      const size_t colon = line.find(':');
      if (colon == std::string::npos || line.size() < 5) continue;
      if (line.rfind("PASS ", 0) == 0) run.passed.insert(line.substr(5, colon - 5));
      if (line.rfind("FAIL ", 0) == 0) run.failed.insert(line.substr(5, colon - 5));
    }
    return run;
  }

  std::string ParticipantLog() const {
    return participant_ ? ReadFileTail(participant_->log_path(), 3000) : "";
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildProcess> participant_;
};

TEST_F(ConformanceTest, TheCppSdkPassesEveryCheck) {
  const std::string address = StartParticipant(CPP_PARTICIPANT_BINARY);
  ASSERT_FALSE(address.empty());
  const DriverRun run = RunDriver(address);
  EXPECT_EQ(run.exit_code, 0) << run.output << ParticipantLog();
  EXPECT_EQ(run.passed, kAllChecks) << run.output;
  EXPECT_TRUE(run.failed.empty()) << run.output;
  EXPECT_NE(run.output.find("7 checks: 7 passed, 0 failed"), std::string::npos) << run.output;
}

#ifdef SKALD_HAVE_GO_PROGRAMS
TEST_F(ConformanceTest, TheGoSdkPassesEveryCheck) {
  const std::string address = StartParticipant(GO_PARTICIPANT_BINARY);
  ASSERT_FALSE(address.empty());
  const DriverRun run = RunDriver(address);
  EXPECT_EQ(run.exit_code, 0) << run.output << ParticipantLog();
  EXPECT_EQ(run.passed, kAllChecks) << run.output;
  EXPECT_TRUE(run.failed.empty()) << run.output;
}
#endif

TEST_F(ConformanceTest, AParticipantWithoutTheBarrierFailsEveryCheckAndTheDriverSaysWhy) {
  const std::string address = StartParticipant(CPP_PARTICIPANT_BINARY, {"--without-barrier"});
  ASSERT_FALSE(address.empty());
  const DriverRun run = RunDriver(address);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(run.failed, kAllChecks) << run.output;
  EXPECT_TRUE(run.passed.empty()) << run.output;
  EXPECT_NE(run.output.find("7 checks: 0 passed, 7 failed"), std::string::npos) << run.output;
  // What it saw, e.g. the counter after three deliveries of one add of 7 ...
  EXPECT_NE(run.output.find("counter after three deliveries of one add of 7: 21"),
            std::string::npos)
      << run.output;
  // ... and the effect of the attempt whose handler outlived its deadline.
  EXPECT_NE(run.output.find("counter after the attempt whose handler outlived its deadline: 9"),
            std::string::npos)
      << run.output;
}

TEST_F(ConformanceTest, NoParticipantListeningFailsEveryCheckQuickly) {
  // A port nothing listens on: bound and closed by a participant started and stopped here.
  const std::string address = StartParticipant(CPP_PARTICIPANT_BINARY);
  ASSERT_FALSE(address.empty());
  ASSERT_TRUE(participant_->Terminate().ok());
  ASSERT_TRUE(participant_->WaitForExit(absl::Seconds(20)).has_value());
  const absl::Time start = absl::Now();
  const DriverRun run = RunDriver(address);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(run.failed, kAllChecks) << run.output;
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));
}

#ifdef SKALD_HAVE_GO_PROGRAMS
// Waits (at most 10 s) for a no-op participant to print the address it listens on, its
// first line of output.
absl::StatusOr<std::string> PrintedAddress(const ChildProcess& process) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(process.log_path());
    std::string line;
    if (std::getline(in, line) && in) return line;  // a whole line, newline included
    if (process.HasExited()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("no address from " + process.Describe() + ": " +
                                     ReadFileTail(process.log_path()));
}

TEST_F(ConformanceTest, RateModeMeasuresTheCppAndTheGoNoopParticipants) {
  auto cpp = ChildProcess::Spawn({NOOP_PARTICIPANT_CPP_BINARY}, dir_->path() + "/cpp.log");
  ASSERT_TRUE(cpp.ok()) << cpp.status();
  auto go = ChildProcess::Spawn({GO_NOOP_PARTICIPANT_BINARY}, dir_->path() + "/go.log");
  ASSERT_TRUE(go.ok()) << go.status();
  auto cpp_address = PrintedAddress(**cpp);
  ASSERT_TRUE(cpp_address.ok()) << cpp_address.status();
  auto go_address = PrintedAddress(**go);
  ASSERT_TRUE(go_address.ok()) << go_address.status();

  const std::string log = dir_->path() + "/rate.log";
  auto driver = ChildProcess::Spawn(
      {SKALD_CONFORMANCE_BINARY, "--rate", "--address", "C++=" + *cpp_address, "--address",
       "Go=" + *go_address, "--seconds", "0.5", "--concurrency", "4"},
      log);
  ASSERT_TRUE(driver.ok()) << driver.status();
  EXPECT_EQ((*driver)->WaitForExit(absl::Seconds(30)), 0) << ReadAll(log);
  const std::string output = ReadAll(log);
  EXPECT_NE(output.find("C++          " + *cpp_address + ": "), std::string::npos) << output;
  EXPECT_NE(output.find("Go           " + *go_address + ": "), std::string::npos) << output;
  EXPECT_NE(output.find("calls/s (0 failed)"), std::string::npos) << output;
  ASSERT_TRUE((*cpp)->Terminate().ok());
  ASSERT_TRUE((*go)->Terminate().ok());
  EXPECT_EQ((*cpp)->WaitForExit(absl::Seconds(10)), 0);
  EXPECT_EQ((*go)->WaitForExit(absl::Seconds(10)), 0);
}
#endif

}  // namespace
}  // namespace skald::testing
