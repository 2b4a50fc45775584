#pragma once

#include <string>
#include <vector>

// SKALD_BINARY and the other programs e2e tests start.
#include "tests/support/built_files.h"

namespace skald::testing {

struct CommandOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the `skald` binary with `args` as a user would (killed after 60 s) and returns its
// exit code, stdout and stderr; stderr passes through a file in `scratch_dir`.
// With `stdin_path`, the command reads its standard input from that file.
CommandOutput RunSkald(const std::string& scratch_dir, const std::vector<std::string>& args,
                       const std::string& stdin_path = "");

}  // namespace skald::testing
