#include "tests/support/ready_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace skald::testing {
namespace {

// The trimmed contents of the file, or "" if it is missing or blank.
std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream buffer;
  buffer << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(buffer.str()));
}

std::string LogOf(const ChildProcess& child) {
  return absl::StrCat("its log ", child.log_path(), " ends with:\n",
                      ReadFileTail(child.log_path(), 4096));
}

}  // namespace

absl::StatusOr<std::string> WaitForReadyFile(const std::string& path, absl::Duration timeout,
                                             const ChildProcess* watch) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    // Checked before the file: a process that wrote the file and then died is not ready.
    std::optional<int> exit_status;
    if (watch != nullptr) exit_status = watch->PeekExitStatus();
    if (exit_status.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat(watch->Describe(), " exited with status ", *exit_status,
                       " before it was ready (ready file ", path, "); ", LogOf(*watch)));
    }
    std::string contents = ReadTrimmed(path);
    if (!contents.empty()) return contents;
    if (absl::Now() >= deadline) {
      std::string message = absl::StrCat("ready file ", path, " did not appear within ",
                                         absl::FormatDuration(timeout));
      if (watch != nullptr) {
        absl::StrAppend(&message, "; ", watch->Describe(), " is still running; ", LogOf(*watch));
      }
      return absl::DeadlineExceededError(message);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string ReadFileTail(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::StrCat("(cannot read ", path, ": ", std::strerror(errno), ")");
  struct stat st;
  std::string tail;
  if (::fstat(fd, &st) == 0) {
    off_t size = st.st_size;
    off_t start = size > static_cast<off_t>(max_bytes) ? size - static_cast<off_t>(max_bytes) : 0;
    if (start > 0) tail = "...";
    if (::lseek(fd, start, SEEK_SET) == start) {
      char buffer[4096];
      ssize_t n;
      size_t left = max_bytes;
      while (left > 0 && (n = ::read(fd, buffer, std::min(sizeof(buffer), left))) > 0) {
        tail.append(buffer, static_cast<size_t>(n));
        left -= static_cast<size_t>(n);
      }
    }
  }
  ::close(fd);
  return tail;
}

}  // namespace skald::testing
