#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skald::bench {

// A `skald serve` the benchmark starts as a process of its own, so that its CPU time and
// memory are its own. Stopped with SIGTERM (SIGKILL after 15 s) when destroyed.
class CoordinatorProcess {
 public:
  // Starts `skald_binary serve --db database_uri --node-id node_id` on a free loopback port,
  // with `extra_args`, its output in `log_path`; returns once it accepts requests (at most
  // 30 s). Coordinators sharing a database need node ids of their own.
  static absl::StatusOr<std::unique_ptr<CoordinatorProcess>> Start(
      const std::string& skald_binary, const std::string& database_uri, const std::string& log_path,
      const std::vector<std::string>& extra_args = {}, const std::string& node_id = "bench");
  ~CoordinatorProcess();

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }

 private:
  CoordinatorProcess() = default;
  pid_t pid_ = -1;
  std::string address_;
};

}  // namespace skald::bench
