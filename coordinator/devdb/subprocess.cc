#include "coordinator/devdb/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace skald::devdb {
namespace {

// Closes a descriptor when it goes out of scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() { Reset(); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The parent's environment with `overrides` set on top, as "NAME=value" strings.
std::vector<std::string> BuildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view var(*entry);
    bool overridden = false;
    for (const auto& [name, value] : overrides) {
      if (var.size() > name.size() && var.substr(0, name.size()) == name &&
          var[name.size()] == '=') {
        overridden = true;
        break;
      }
    }
    if (!overridden) env.emplace_back(var);
  }
  for (const auto& [name, value] : overrides) env.push_back(absl::StrCat(name, "=", value));
  return env;
}

std::vector<char*> PointersTo(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Appends data to *out, keeping only its last max_bytes bytes.
void AppendBounded(std::string* out, std::string_view data, size_t max_bytes) {
  out->append(data);
  if (out->size() > 2 * max_bytes) out->erase(0, out->size() - max_bytes);
}

// Reads whatever `fd` (non-blocking) has now. Returns false at end of file.
bool DrainAvailable(int fd, std::string* out, size_t max_bytes) {
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      AppendBounded(out, std::string_view(buffer, static_cast<size_t>(n)), max_bytes);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // EOF or a read error: nothing more will come.
  }
}

// Waits up to `timeout` for `pid` to exit. Returns its wait status, or -1 if still running.
int WaitWithTimeout(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;  // Already reaped elsewhere: nothing to wait for.
    if (absl::Now() >= deadline) return -1;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const SpawnOptions& options) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError("SpawnProcess: empty argv");
  }
  std::vector<std::string> args = argv;
  std::vector<char*> arg_pointers = PointersTo(args);
  std::vector<std::string> env = BuildEnvironment(options.env);
  std::vector<char*> env_pointers = PointersTo(env);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);

  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (options.output_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, options.output_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, options.output_fd, STDERR_FILENO);
  }
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());
  }

  // The child must not inherit a blocked signal mask or ignored signals (a parent that
  // ignores SIGPIPE, or blocks SIGTERM for a signal-handling thread, would otherwise pass
  // that on and the child could not be stopped the usual way).
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  posix_spawnattr_setsigmask(&attr, &empty_mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&attr, &defaults);
  if (options.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);

  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, args[0].c_str(), &actions, &attr, arg_pointers.data(),
                           env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    std::string message =
        absl::StrCat("could not start `", DescribeCommand(argv), "`: ", std::strerror(err));
    if (argv[0].find('/') == std::string::npos) {
      const char* path = std::getenv("PATH");
      absl::StrAppend(&message, " (looked up in PATH=", path != nullptr ? path : "", ")");
    }
    if (!options.working_dir.empty()) {
      absl::StrAppend(&message, " (working directory ", options.working_dir, ")");
    }
    if (err == ENOENT) return absl::NotFoundError(message);
    return absl::InternalError(message);
  }
  return pid;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const RunOptions& options) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("could not create a pipe to run `",
                                            DescribeCommand(argv), "`: ", std::strerror(errno)));
  }
  FdCloser read_end(pipe_fds[0]);
  FdCloser write_end(pipe_fds[1]);
  ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);

  SpawnOptions spawn;
  spawn.output_fd = write_end.get();
  spawn.working_dir = options.working_dir;
  spawn.env = options.env;
  spawn.new_process_group = true;
  absl::StatusOr<pid_t> pid = SpawnProcess(argv, spawn);
  if (!pid.ok()) return pid.status();
  write_end.Reset();  // Only the child writes; we see EOF once it (and its heirs) close it.

  CommandResult result;
  const absl::Time deadline = absl::Now() + options.timeout;
  bool open = true;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(*pid, &status, WNOHANG);
    if (r == *pid) {
      // Exited. Take what is already in the pipe, but do not wait for daemons it started
      // (e.g. a server that pg_ctl launched) which may keep the pipe open.
      if (open) DrainAvailable(read_end.get(), &result.output, options.max_output_bytes);
      result.exit_code = ExitCodeFromWaitStatus(status);
      result.output = TailOf(result.output, options.max_output_bytes);
      return result;
    }
    if (absl::Now() >= deadline) break;
    struct pollfd pfd = {read_end.get(), POLLIN, 0};
    int ready = ::poll(&pfd, open ? 1 : 0, 20);
    if (ready > 0 && open) {
      open = DrainAvailable(read_end.get(), &result.output, options.max_output_bytes);
    }
  }

  // Timed out: ask the whole process group to stop, then insist.
  ::kill(-*pid, SIGTERM);
  if (WaitWithTimeout(*pid, absl::Seconds(2)) == -1) {
    ::kill(-*pid, SIGKILL);
    WaitWithTimeout(*pid, absl::InfiniteDuration());
  }
  if (open) DrainAvailable(read_end.get(), &result.output, options.max_output_bytes);
  return absl::DeadlineExceededError(absl::StrCat(
      "`", DescribeCommand(argv), "` did not finish within ", absl::FormatDuration(options.timeout),
      " and was killed; its last output:\n", TailOf(result.output, 4096)));
}

std::string DescribeCommand(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    if (!arg.empty() && arg.find_first_of(" \t\n'\"\\$`") == std::string::npos) {
      line += arg;
      continue;
    }
    line += '\'';
    for (char c : arg) {
      if (c == '\'') {
        line += "'\\''";
      } else {
        line += c;
      }
    }
    line += '\'';
  }
  return line;
}

int ExitCodeFromWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string TailOf(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return "..." + std::string(text.substr(text.size() - max_bytes));
}

}  // namespace skald::devdb
