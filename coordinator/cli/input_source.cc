#include "coordinator/cli/input_source.h"

#include <fstream>

namespace skald::cli {
namespace {

// Reads at most max_bytes + 1 bytes of `in`: one more than allowed tells it is too long
// without reading the rest.
absl::StatusOr<std::string> ReadBounded(std::istream& in, size_t max_bytes,
                                        const std::string& what) {
  std::string text;
  char buffer[64 * 1024];
  while (in && text.size() <= max_bytes) {
    in.read(buffer, static_cast<std::streamsize>(
                        std::min<size_t>(sizeof buffer, max_bytes + 1 - text.size())));
    text.append(buffer, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::NotFoundError("cannot read " + what);
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(what + " is over " + std::to_string(max_bytes) +
                                      " bytes, more than a coordinator takes");
  }
  return text;
}

}  // namespace

absl::StatusOr<std::string> ReadInputArgument(const std::string& argument,
                                              std::istream& standard_input, size_t max_bytes) {
  if (argument == "-") return ReadBounded(standard_input, max_bytes, "the input on stdin");
  if (argument.empty() || argument[0] != '@') return argument;
  const std::string path = argument.substr(1);
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError("cannot read " + path);
  return ReadBounded(file, max_bytes, path);
}

}  // namespace skald::cli
