#include "tests/support/temp_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace skald::testing {

bool KeepTestDirs() {
  const char* keep = std::getenv("SKALD_KEEP_TEST_DIRS");
  return keep != nullptr && keep[0] != '\0';
}

absl::StatusOr<TempDir> TempDir::Create(std::string_view prefix) {
  if (prefix.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("TempDir prefix '", std::string(prefix), "' has a '/'"));
  }
  std::string pattern = absl::StrCat("/tmp/", std::string(prefix), "XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp(", pattern, ") failed: ", std::strerror(errno)));
  }
  TempDir dir(std::string(buffer.data()));
  if (::chmod(dir.path_.c_str(), 0755) != 0) {
    return absl::InternalError(
        absl::StrCat("chmod 0755 ", dir.path_, " failed: ", std::strerror(errno)));
  }
  return dir;
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, "");
  }
  return *this;
}

TempDir::~TempDir() { Remove(); }

std::string TempDir::File(std::string_view name) const {
  return absl::StrCat(path_, "/", std::string(name));
}

void TempDir::Remove() {
  if (path_.empty()) return;
  if (KeepTestDirs()) {
    std::fprintf(stderr, "SKALD_KEEP_TEST_DIRS: keeping %s\n", path_.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) std::fprintf(stderr, "could not remove %s: %s\n", path_.c_str(), ec.message().c_str());
  }
  path_.clear();
}

}  // namespace skald::testing
