#pragma once

#include <string>
#include <vector>

namespace skald::testing {

struct CommandOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the `skald` binary with `args` as a user would (killed after 60 s) and returns its
// exit code, stdout and stderr; stderr passes through a file in `scratch_dir`.
CommandOutput RunSkald(const std::string& scratch_dir, const std::vector<std::string>& args);

}  // namespace skald::testing
