#include "tests/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "coordinator/devdb/subprocess.h"

namespace skald::testing {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(ChildProcessOptions options) {
  if (options.log_path.empty()) {
    return absl::InvalidArgumentError("ChildProcess: log_path is empty");
  }
  int log_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create log file ", options.log_path, ": ", std::strerror(errno)));
  }
  devdb::SpawnOptions spawn;
  spawn.output_fd = log_fd;
  spawn.env = options.env;
  spawn.working_dir = options.working_dir;
  absl::StatusOr<pid_t> pid = devdb::SpawnProcess(options.argv, spawn);
  ::close(log_fd);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<ChildProcess>(new ChildProcess(std::move(options), *pid));
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(std::vector<std::string> argv,
                                                                  std::string log_path) {
  ChildProcessOptions options;
  options.argv = std::move(argv);
  options.log_path = std::move(log_path);
  return Spawn(std::move(options));
}

ChildProcess::~ChildProcess() {
  if (exit_status_.has_value()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string ChildProcess::Describe() const {
  return absl::StrCat("pid ", pid_, " (", options_.argv.empty() ? "?" : options_.argv[0], ")");
}

absl::Status ChildProcess::Signal(int signal) {
  if (exit_status_.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot signal ", Describe(), ": it already exited with status ", *exit_status_));
  }
  if (::kill(pid_, signal) != 0) {
    return absl::InternalError(
        absl::StrCat("kill(", pid_, ", ", signal, ") failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status ChildProcess::Terminate() { return Signal(SIGTERM); }

absl::Status ChildProcess::Kill() { return Signal(SIGKILL); }

std::optional<int> ChildProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!exit_status_.has_value()) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = devdb::ExitCodeFromWaitStatus(status);
      break;
    }
    if (r < 0 && errno != EINTR) {
      exit_status_ = -1;  // Reaped by someone else; there is nothing left to wait for.
      break;
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return exit_status_;
}

std::optional<int> ChildProcess::PeekExitStatus() const {
  if (exit_status_.has_value()) return exit_status_;
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return std::nullopt;
  }
  if (info.si_pid != pid_) return std::nullopt;  // Still running.
  if (info.si_code == CLD_EXITED) return info.si_status;
  return 128 + info.si_status;  // CLD_KILLED or CLD_DUMPED.
}

}  // namespace skald::testing
