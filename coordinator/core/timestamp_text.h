#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "coordinator/core/saga_state.h"

namespace skald::core {

// Returns OK when `text` is a date ("2026-11-26") or an RFC 3339 time
// ("2026-11-26T10:00:00Z", "2026-11-26 10:00:00.123+01:00", "2026-11-26T10:00") naming a
// day that exists (no 2026-02-30, February 29 only in leap years) and a valid time of day
// and offset, so that PostgreSQL parses whatever passes. Otherwise INVALID_ARGUMENT saying
// what is wrong, e.g. "2026-02-30: February 2026 has 28 days".
absl::Status CheckTimestampText(std::string_view text);

// `time` as RFC 3339 in UTC with milliseconds, e.g. "2026-11-26T10:00:00.123Z": what the
// client API shows of every time it answers with.
std::string Rfc3339Millis(TimePoint time);

}  // namespace skald::core
