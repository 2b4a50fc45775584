#include "tests/e2e/skald_command.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace skald::testing {
namespace {

// Single-quotes `arg` for /bin/sh.
std::string ShellQuoted(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

CommandOutput RunSkald(const std::string& scratch_dir, const std::vector<std::string>& args,
                       const std::string& stdin_path) {
  const std::string err_path = scratch_dir + "/skald.stderr";
  std::string command = "timeout 60 " + ShellQuoted(SKALD_BINARY);
  for (const std::string& arg : args) command += " " + ShellQuoted(arg);
  command += " 2>" + ShellQuoted(err_path);
  if (!stdin_path.empty()) command += " <" + ShellQuoted(stdin_path);
  CommandOutput result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = ReadFile(err_path);
  return result;
}

}  // namespace skald::testing
