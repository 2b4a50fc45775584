// Running other programs without a shell: argv goes straight to the kernel, so no path or
// argument is ever interpreted as shell syntax.
#ifndef SKALD_COORDINATOR_DEVDB_SUBPROCESS_H_
#define SKALD_COORDINATOR_DEVDB_SUBPROCESS_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skald::devdb {

// How a child process is set up by SpawnProcess.
struct SpawnOptions {
  // The child's stdout and stderr both go to this descriptor; -1 keeps the parent's.
  // stdin is always /dev/null.
  int output_fd = -1;
  // Directory the child starts in; empty keeps the parent's.
  std::string working_dir;
  // Variables set (or replaced) in the child's environment, on top of the parent's.
  std::vector<std::pair<std::string, std::string>> env;
  // Puts the child in a process group of its own (pgid == pid), so that it and its own
  // children can be signalled together and are not hit by the terminal's Ctrl-C.
  bool new_process_group = false;
};

// Starts argv[0] (looked up in PATH when it has no '/') with arguments argv[1..] and returns
// its pid. The caller must reap it with waitpid(). Fails if argv is empty or the program
// cannot be executed (the message names it and says why).
absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const SpawnOptions& options);

struct RunOptions {
  // The command is killed (SIGTERM to its process group, SIGKILL 2 s later) past this.
  absl::Duration timeout = absl::Seconds(60);
  std::string working_dir;
  std::vector<std::pair<std::string, std::string>> env;
  // Only the last this-many bytes of the output are kept.
  size_t max_output_bytes = 64 * 1024;
};

struct CommandResult {
  // The exit status, or 128 + the signal number if a signal ended the process.
  int exit_code = -1;
  // stdout and stderr, interleaved as written (at most RunOptions::max_output_bytes, the end).
  std::string output;
};

// Runs a command to completion, capturing its stdout and stderr. A non-zero exit code is a
// result, not an error: the returned Status is only an error if the command could not be
// started (NOT_FOUND / INTERNAL) or ran past options.timeout (DEADLINE_EXCEEDED, with the tail
// of its output). Returns once the command itself exits, even if daemons it started still
// hold its output open.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const RunOptions& options = {});

// Returns argv as one line for messages, quoting arguments that contain spaces or quotes.
std::string DescribeCommand(const std::vector<std::string>& argv);

// Returns the exit status from a waitpid() status, or 128 + the signal number.
int ExitCodeFromWaitStatus(int wait_status);

// Returns the last max_bytes bytes of text, prefixed with "..." if anything was cut.
std::string TailOf(std::string_view text, size_t max_bytes);

}  // namespace skald::devdb

#endif  // SKALD_COORDINATOR_DEVDB_SUBPROCESS_H_
