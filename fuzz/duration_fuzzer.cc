// Fuzzes ParseDuration / FormatDuration (coordinator/core/duration.h), which read the
// durations of every definition applied over the wire.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "coordinator/core/duration.h"
#include "fuzz/fuzz_check.h"

namespace {

using skald::core::FormatDuration;
using skald::core::ParseDuration;

constexpr std::chrono::milliseconds kLongest = std::chrono::hours(24 * 30);

// A duration FormatDuration wrote must read back as itself.
void CheckRoundTrip(std::chrono::milliseconds duration) {
  const std::string text = FormatDuration(duration);
  auto parsed = ParseDuration(text);
  FUZZ_CHECK(parsed.ok(), text.c_str());
  FUZZ_CHECK(*parsed == duration, text.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ParseDuration(text);
  if (parsed.ok()) {
    // The documented range: no negative durations, nothing over 30 days.
    FUZZ_CHECK(parsed->count() >= 0, "negative duration accepted");
    FUZZ_CHECK(*parsed <= kLongest, "duration over 30 days accepted");
    CheckRoundTrip(*parsed);
  } else {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument,
               "error other than INVALID_ARGUMENT");
    FUZZ_CHECK(!parsed.status().message().empty(), "error without a message");
  }
  // The same bytes as a count of milliseconds: every duration in range round-trips through
  // its text, whichever unit FormatDuration picks.
  if (size >= sizeof(uint64_t)) {
    uint64_t raw = 0;
    std::memcpy(&raw, data, sizeof(raw));
    CheckRoundTrip(std::chrono::milliseconds(raw % (kLongest.count() + 1)));
  }
  return 0;
}
