// Waiting for a started process to say it is ready, and reading its log for messages.
#ifndef SKALD_TESTS_SUPPORT_READY_FILE_H_
#define SKALD_TESTS_SUPPORT_READY_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/child_process.h"

namespace skald::testing {

// Polls (every 20 ms) until the file at `path` exists and has non-blank contents, and returns
// them with surrounding whitespace trimmed (e.g. "127.0.0.1:40123"). The writer should write
// a temporary file and rename it into place, so a half-written file is never seen.
// Fails with DEADLINE_EXCEEDED after `timeout`; if `watch` is given and that process exits
// first, fails at once with FAILED_PRECONDITION. Both errors include the tail of the watched
// process's log.
absl::StatusOr<std::string> WaitForReadyFile(const std::string& path, absl::Duration timeout,
                                             const ChildProcess* watch = nullptr);

// Returns the last `max_bytes` bytes of the file ("..." first if cut), or a line saying why
// it cannot be read. For error messages.
std::string ReadFileTail(const std::string& path, size_t max_bytes = 4096);

}  // namespace skald::testing

#endif  // SKALD_TESTS_SUPPORT_READY_FILE_H_
