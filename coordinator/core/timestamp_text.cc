#include "coordinator/core/timestamp_text.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace skald::core {
namespace {

// Reads `count` digits at `at`; false if there are not that many.
bool Digits(std::string_view text, size_t& at, size_t count, int& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (size_t i = 0; i < count; ++i) {
    const char c = text[at + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  at += count;
  return true;
}

bool Take(std::string_view text, size_t& at, char c) {
  if (at >= text.size() || text[at] != c) return false;
  ++at;
  return true;
}

int DaysIn(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                   "May",       "June",     "July",     "August",
                                   "September", "October",  "November", "December"};

}  // namespace

absl::Status CheckTimestampText(std::string_view text) {
  const std::string shown =
      text.size() > 40 ? std::string(text.substr(0, 40)) + "..." : std::string(text);
  const absl::Status malformed = absl::InvalidArgumentError(
      "expected an RFC 3339 time like 2026-11-26T10:00:00Z (or a date), got \"" + shown + "\"");
  if (text.size() > 40) return malformed;
  size_t at = 0;
  int year = 0, month = 0, day = 0;
  if (!Digits(text, at, 4, year) || !Take(text, at, '-') || !Digits(text, at, 2, month) ||
      !Take(text, at, '-') || !Digits(text, at, 2, day)) {
    return malformed;
  }
  if (year < 1) return absl::InvalidArgumentError(shown + ": there is no year 0");
  if (month < 1 || month > 12) {
    return absl::InvalidArgumentError(shown + ": month " + std::to_string(month) +
                                      " does not exist (01 to 12)");
  }
  if (day < 1 || day > DaysIn(year, month)) {
    return absl::InvalidArgumentError(shown + ": " + kMonths[month - 1] + " " +
                                      std::to_string(year) + " has " +
                                      std::to_string(DaysIn(year, month)) + " days");
  }
  if (at == text.size()) return absl::OkStatus();
  if (!Take(text, at, 'T') && !Take(text, at, 't') && !Take(text, at, ' ')) return malformed;
  int hour = 0, minute = 0, second = 0;
  if (!Digits(text, at, 2, hour) || !Take(text, at, ':') || !Digits(text, at, 2, minute)) {
    return malformed;
  }
  if (Take(text, at, ':')) {
    if (!Digits(text, at, 2, second)) return malformed;
    if (Take(text, at, '.')) {
      size_t digits = 0;
      while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at, ++digits;
      if (digits == 0 || digits > 6) return malformed;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return absl::InvalidArgumentError(shown + ": not a time of day (00:00:00 to 23:59:59)");
  }
  if (at == text.size()) return absl::OkStatus();
  if (Take(text, at, 'Z') || Take(text, at, 'z')) {
    return at == text.size() ? absl::OkStatus() : malformed;
  }
  if (!Take(text, at, '+') && !Take(text, at, '-')) return malformed;
  int offset_hours = 0, offset_minutes = 0;
  if (!Digits(text, at, 2, offset_hours)) return malformed;
  if (at < text.size()) {
    Take(text, at, ':');
    if (!Digits(text, at, 2, offset_minutes)) return malformed;
  }
  if (at != text.size()) return malformed;
  if (offset_hours > 15 || offset_minutes > 59) {
    return absl::InvalidArgumentError(shown + ": offset out of range (-15:59 to +15:59)");
  }
  return absl::OkStatus();
}

std::string Rfc3339Millis(TimePoint time) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = millis / 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  const size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ", static_cast<int>(millis % 1000));
  return text;
}

}  // namespace skald::core
