#include "coordinator/devdb/cluster_files.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace skald::devdb {
namespace {

// True if `pid` is alive and, as far as we can tell, a postgres server (postmaster.pid
// files survive crashes and reboots; the pid may since belong to something else).
bool IsLivePostgres(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  char exe[4096];
  std::string link = absl::StrCat("/proc/", pid, "/exe");
  ssize_t n = ::readlink(link.c_str(), exe, sizeof(exe) - 1);
  if (n <= 0) return errno != ENOENT;  // ENOENT: a zombie. Otherwise not ours to inspect.
  std::string target(exe, static_cast<size_t>(n));
  if (target.ends_with(" (deleted)")) {  // The binary was upgraded under it.
    target.resize(target.size() - std::string_view(" (deleted)").size());
  }
  return target.ends_with("/postgres") || target.ends_with("/postmaster");
}

absl::Status WriteFile(const std::string& path, const std::string& content, std::ios::openmode mode,
                       uid_t owner, gid_t group) {
  {
    std::ofstream out(path, mode);
    out << content;
    out.close();
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
    }
  }
  if (::chown(path.c_str(), owner, group) != 0) {
    return absl::InternalError(absl::StrCat("cannot chown ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<PostmasterInfo> ReadLivePostmaster(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  // Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
  std::vector<std::string> lines = absl::StrSplit(buffer.str(), '\n');
  PostmasterInfo info;
  int pid = 0;
  if (lines.empty() || !absl::SimpleAtoi(lines[0], &pid)) return std::nullopt;
  info.pid = pid;
  if (!IsLivePostgres(info.pid)) return std::nullopt;
  if (lines.size() > 3) (void)absl::SimpleAtoi(lines[3], &info.port);
  if (lines.size() > 4) info.socket_dir = std::string(absl::StripAsciiWhitespace(lines[4]));
  if (lines.size() > 7) info.status = std::string(absl::StripAsciiWhitespace(lines[7]));
  return info;
}

std::string QuoteConfigString(std::string_view value) {
  std::string quoted = "'";
  for (char c : value) {
    switch (c) {
      case '\'':
        quoted += "''";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\n':
        quoted += "\\n";
        break;
      case '\r':
        quoted += "\\r";
        break;
      case '\t':
        quoted += "\\t";
        break;
      default:
        quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

std::string SocketDirectoriesSetting(std::string_view dir) {
  // A comma-separated list whose elements may be double-quoted, with "" for a quote.
  std::string element = "\"";
  for (char c : dir) {
    element += c;
    if (c == '"') element += '"';
  }
  element += '"';
  return element;
}

absl::Status WriteSkaldConfig(const std::string& data_dir,
                              const std::vector<std::pair<std::string, std::string>>& settings,
                              uid_t owner, gid_t group) {
  std::string content =
      "# Written by Skald (coordinator/devdb) at every start; edits here are lost.\n"
      "# Put your own settings in postgresql.conf above the include line.\n";
  for (const auto& [name, value] : settings) {
    absl::StrAppend(&content, name, " = ", QuoteConfigString(value), "\n");
  }
  const std::string config_path = absl::StrCat(data_dir, "/", kSkaldConfigFile);
  const std::string temp_path = config_path + ".tmp";
  if (absl::Status s = WriteFile(temp_path, content, std::ios::trunc, owner, group); !s.ok()) {
    return s;
  }
  if (::rename(temp_path.c_str(), config_path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", temp_path, " to ", config_path, ": ", std::strerror(errno)));
  }

  const std::string main_config = data_dir + "/postgresql.conf";
  const std::string include_line =
      absl::StrCat("include_if_exists = ", QuoteConfigString(kSkaldConfigFile));
  std::ifstream in(main_config);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", main_config, ": ", std::strerror(errno)));
  }
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StripAsciiWhitespace(line) == include_line) return absl::OkStatus();
  }
  in.close();
  return WriteFile(main_config, absl::StrCat("\n# Added by Skald.\n", include_line, "\n"),
                   std::ios::app, static_cast<uid_t>(-1), static_cast<gid_t>(-1));
}

bool HoldsCluster(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir + "/PG_VERSION", ec);
}

}  // namespace skald::devdb
