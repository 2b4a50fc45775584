// Temporary directories for tests.
#ifndef SKALD_TESTS_SUPPORT_TEMP_DIR_H_
#define SKALD_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace skald::testing {

// A fresh directory under /tmp, removed with everything in it when this object is destroyed,
// unless the environment variable SKALD_KEEP_TEST_DIRS is set (then its path is printed to
// stderr). /tmp rather than $TMPDIR keeps unix socket paths inside it short.
class TempDir {
 public:
  // Creates /tmp/<prefix>XXXXXX with mode 0755, so that a server running as another user
  // (`postgres`, when tests run as root) can enter it. REQUIRES: prefix has no '/'.
  static absl::StatusOr<TempDir> Create(std::string_view prefix = "skald-test-");

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // Returns path() + "/" + name.
  std::string File(std::string_view name) const;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  void Remove();

  std::string path_;
};

// True if SKALD_KEEP_TEST_DIRS is set: test directories are left behind for inspection.
bool KeepTestDirs();

}  // namespace skald::testing

#endif  // SKALD_TESTS_SUPPORT_TEMP_DIR_H_
