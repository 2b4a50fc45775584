#include "bench/coordinator_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "coordinator/devdb/subprocess.h"

namespace skald::bench {
namespace {

// Waits up to `timeout` for `pid` to exit; true once reaped.
bool Reap(pid_t pid, std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorProcess>> CoordinatorProcess::Start(
    const std::string& skald_binary, const std::string& database_uri, const std::string& log_path,
    const std::vector<std::string>& extra_args, const std::string& node_id) {
  const std::string ready_file = log_path + ".ready";
  std::remove(ready_file.c_str());
  std::vector<std::string> argv = {skald_binary, "serve",       "--db",         database_uri,
                                   "--listen",   "127.0.0.1:0", "--ready-file", ready_file,
                                   "--node-id",  node_id};
  const bool sets_level = std::any_of(extra_args.begin(), extra_args.end(), [](const auto& arg) {
    return arg.rfind("--log-level", 0) == 0;
  });
  if (!sets_level) argv.insert(argv.end(), {"--log-level", "warn"});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) return absl::InternalError("cannot create " + log_path);
  devdb::SpawnOptions options;
  options.output_fd = log;
  auto pid = devdb::SpawnProcess(argv, options);
  close(log);
  if (!pid.ok()) return pid.status();
  std::unique_ptr<CoordinatorProcess> process(new CoordinatorProcess());
  process->pid_ = *pid;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < give_up) {
    std::ifstream ready(ready_file);
    std::string address;
    if (std::getline(ready, address) && !address.empty()) {
      process->address_ = address;
      return process;
    }
    if (waitpid(*pid, nullptr, WNOHANG) == *pid) {
      process->pid_ = -1;
      return absl::InternalError("skald serve exited at start; see " + log_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("skald serve not ready within 30 s; see " + log_path);
}

CoordinatorProcess::~CoordinatorProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (Reap(pid_, std::chrono::seconds(15))) return;
  kill(pid_, SIGKILL);
  Reap(pid_, std::chrono::seconds(5));
}

}  // namespace skald::bench
