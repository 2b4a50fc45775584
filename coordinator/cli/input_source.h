#pragma once

#include <cstddef>
#include <istream>
#include <string>

#include "absl/status/statusor.h"

namespace skald::cli {

// The largest saga input the CLI reads from a file or stdin: the largest request a
// coordinator takes by default (--max-request-bytes). The coordinator checks its own
// --max-input-bytes (1 MiB by default) and says so when an input is over it.
inline constexpr size_t kMaxInputArgumentBytes = 4 << 20;

// Returns the JSON text `argument` stands for: "@FILE" the contents of FILE, "-" all of
// `standard_input`, anything else the argument itself (which Linux caps at 128 KiB). A file
// or stream longer than `max_bytes` is refused before it is read whole (INVALID_ARGUMENT
// naming the limit); one that cannot be read is NOT_FOUND naming it.
absl::StatusOr<std::string> ReadInputArgument(const std::string& argument,
                                              std::istream& standard_input,
                                              size_t max_bytes = kMaxInputArgumentBytes);

}  // namespace skald::cli
