// A program a test starts and controls: the coordinator, an example participant, ...
#ifndef SKALD_TESTS_SUPPORT_CHILD_PROCESS_H_
#define SKALD_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skald::testing {

struct ChildProcessOptions {
  // argv[0] is the program: a path, or a name looked up in PATH.
  std::vector<std::string> argv;
  // The child's stdout and stderr go here; the file is created or truncated.
  std::string log_path;
  // Environment variables set for the child, on top of the test's own.
  std::vector<std::pair<std::string, std::string>> env;
  // Empty: the test's working directory.
  std::string working_dir;
};

// A running child process, in the test's own process group (so Ctrl-C reaches it too). The
// destructor kills it (SIGKILL) if it is still running and always reaps it, so no test
// leaves it behind. Processes it started itself are its business: wrap a shell command with
// `exec` so that the shell does not outlive its child. Not thread-safe.
class ChildProcess {
 public:
  // Starts the program. Fails if the log file cannot be created or the program cannot be
  // executed (NOT_FOUND if it does not exist).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(ChildProcessOptions options);
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(std::vector<std::string> argv,
                                                             std::string log_path);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return options_.log_path; }
  // "pid 123 (/path/to/program)", for messages.
  std::string Describe() const;

  // Sends `signal`. FAILED_PRECONDITION once the child has been reaped (its pid may belong
  // to another process by then).
  absl::Status Signal(int signal);
  absl::Status Terminate();  // SIGTERM
  absl::Status Kill();       // SIGKILL

  // Waits up to `timeout` for the child to exit and reaps it. Returns its exit status, or
  // 128 + the signal number if a signal ended it; nullopt if it is still running.
  std::optional<int> WaitForExit(absl::Duration timeout);

  // Returns the exit status (as WaitForExit) if the child has exited, without waiting and
  // without reaping it; nullopt while it runs.
  std::optional<int> PeekExitStatus() const;
  bool HasExited() const { return PeekExitStatus().has_value(); }

 private:
  ChildProcess(ChildProcessOptions options, pid_t pid) : options_(std::move(options)), pid_(pid) {}

  ChildProcessOptions options_;
  pid_t pid_;
  std::optional<int> exit_status_;  // Set once reaped.
};

}  // namespace skald::testing

#endif  // SKALD_TESTS_SUPPORT_CHILD_PROCESS_H_
