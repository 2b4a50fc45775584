#include "tests/sim/postgres_time_text.h"

#include <chrono>
#include <cstdio>

#include "coordinator/core/timestamp_text.h"

namespace skald::sim {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::microseconds;
using std::chrono::milliseconds;

struct Civil {
  std::chrono::year_month_day date;
  std::chrono::hh_mm_ss<microseconds> time;
};

Civil Split(core::TimePoint time) {
  const auto micros = floor<microseconds>(time);
  const auto day = floor<days>(micros);
  return {std::chrono::year_month_day(day), std::chrono::hh_mm_ss<microseconds>(micros - day)};
}

// Reads up to `max` digits at `at` (at least `min`); false if there are fewer.
bool Digits(std::string_view text, size_t& at, size_t min, size_t max, int& value,
            size_t* count = nullptr) {
  size_t n = 0;
  value = 0;
  while (n < max && at + n < text.size() && text[at + n] >= '0' && text[at + n] <= '9') {
    value = value * 10 + (text[at + n] - '0');
    ++n;
  }
  if (n < min) return false;
  at += n;
  if (count) *count = n;
  return true;
}

bool Take(std::string_view text, size_t& at, char c) {
  if (at >= text.size() || text[at] != c) return false;
  ++at;
  return true;
}

}  // namespace

core::TimePoint ToMicroseconds(core::TimePoint time) {
  return core::TimePoint(floor<microseconds>(time.time_since_epoch()));
}

core::TimePoint ToMilliseconds(core::TimePoint time) {
  // duration_cast, not floor: the store writes duration_cast<milliseconds> (toward zero).
  return core::TimePoint(std::chrono::duration_cast<milliseconds>(time.time_since_epoch()));
}

std::string Rfc3339Millis(core::TimePoint time) {
  const Civil c = Split(time);
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(c.date.year()),
                unsigned(c.date.month()), unsigned(c.date.day()), int(c.time.hours().count()),
                int(c.time.minutes().count()), int(c.time.seconds().count()),
                int(c.time.subseconds().count() / 1000));
  return text;
}

std::string PostgresText(core::TimePoint time) {
  const Civil c = Split(time);
  char text[48];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d:%02d.%06d+00", int(c.date.year()),
                unsigned(c.date.month()), unsigned(c.date.day()), int(c.time.hours().count()),
                int(c.time.minutes().count()), int(c.time.seconds().count()),
                int(c.time.subseconds().count()));
  return text;
}

std::optional<core::TimePoint> ParseTimestampText(std::string_view text) {
  if (!core::CheckTimestampText(text).ok()) return std::nullopt;
  // Valid from here on (dates that exist, fields in range): only the values are read.
  size_t at = 0;
  int year = 0, month = 0, day = 0;
  Digits(text, at, 4, 4, year);
  Take(text, at, '-');
  Digits(text, at, 2, 2, month);
  Take(text, at, '-');
  Digits(text, at, 2, 2, day);
  const std::chrono::sys_days date = std::chrono::year(year) / month / day;
  microseconds since_midnight{0};
  microseconds offset{0};
  if (at < text.size()) {
    ++at;  // 'T', 't' or ' '
    int hour = 0, minute = 0, second = 0, fraction = 0;
    size_t fraction_digits = 0;
    Digits(text, at, 2, 2, hour);
    Take(text, at, ':');
    Digits(text, at, 2, 2, minute);
    if (Take(text, at, ':')) {
      Digits(text, at, 2, 2, second);
      if (Take(text, at, '.')) Digits(text, at, 1, 6, fraction, &fraction_digits);
    }
    for (size_t i = fraction_digits; i < 6; ++i) fraction *= 10;
    since_midnight = std::chrono::hours(hour) + std::chrono::minutes(minute) +
                     std::chrono::seconds(second) + microseconds(fraction);
    if (at < text.size() && text[at] != 'Z' && text[at] != 'z') {
      const int sign = text[at] == '-' ? -1 : 1;
      ++at;
      int offset_hours = 0, offset_minutes = 0;
      Digits(text, at, 2, 2, offset_hours);
      Take(text, at, ':');
      if (at < text.size()) Digits(text, at, 2, 2, offset_minutes);
      offset = sign * (std::chrono::hours(offset_hours) + std::chrono::minutes(offset_minutes));
    }
  }
  return core::TimePoint(date.time_since_epoch() + since_midnight - offset);
}

}  // namespace skald::sim
