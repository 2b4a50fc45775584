#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "coordinator/core/saga_state.h"

// Time as PostgreSQL keeps, prints and reads it, for the in-memory store: it must hand out
// the same strings (created_at, history times, page tokens) and read the same filters as
// PostgresSagaStore does.
namespace skald::sim {

// Returns `time` cut to microseconds, the precision of a timestamptz.
core::TimePoint ToMicroseconds(core::TimePoint time);

// Returns `time` cut to milliseconds: how a time the store writes as milliseconds since the
// epoch (retry_at, deadlines) reads back.
core::TimePoint ToMilliseconds(core::TimePoint time);

// Returns "2026-12-07T08:49:20.123Z" (UTC, milliseconds cut, not rounded), as the store's
// to_char(... 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') prints a time.
std::string Rfc3339Millis(core::TimePoint time);

// Returns "2026-12-07 08:49:20.123456+00", as PostgreSQL prints a timestamptz as text in a
// UTC session: the time part of a ListSagas page token.
std::string PostgresText(core::TimePoint time);

// Returns the time `text` names, or nullopt when it is not one. Accepts what
// core::CheckTimestampText accepts: a date (midnight), or a date and time with 'T', 't' or a
// space between, optional seconds and up to six fraction digits, and an offset (Z, +HH,
// +HH:MM, +HHMM). A time without an offset is UTC (the test clusters' session time zone).
std::optional<core::TimePoint> ParseTimestampText(std::string_view text);

}  // namespace skald::sim
