#include "coordinator/core/trace_context.h"

#include <algorithm>
#include <cstdio>

#include "absl/status/status.h"

namespace skald::core {
namespace {

// FNV-1a, 64 bits: stable across builds and platforms, unlike std::hash.
uint64_t Fnv1a(const std::string& text, uint64_t seed) {
  uint64_t hash = 14695981039346656037ull ^ seed;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string Hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// An all-zero id is invalid in W3C trace context.
uint64_t NonZero(uint64_t value) { return value == 0 ? 1 : value; }

// The trace id of a saga stored before traceparents were kept.
std::string DerivedTraceId(const std::string& saga_id) {
  return Hex(Fnv1a(saga_id, 0x5a1d)) + Hex(NonZero(Fnv1a(saga_id, 0x7ace)));
}

std::string AttemptSpanId(const std::string& saga_id, const std::string& step, Phase phase,
                          int attempt) {
  const std::string span_key =
      saga_id + '\0' + step + '\0' + std::string(ToString(phase)) + '\0' + std::to_string(attempt);
  return Hex(NonZero(Fnv1a(span_key, 0x59a2)));
}

bool IsLowerHex(std::string_view text) {
  return std::ranges::all_of(
      text, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool AllZero(std::string_view text) {
  return std::ranges::all_of(text, [](char c) { return c == '0'; });
}

absl::Status InvalidTraceParent(const std::string& problem) {
  return absl::InvalidArgumentError(problem +
                                    " (expected \"00-<32 hex trace id>-<16 hex span id>-<2 hex "
                                    "flags>\", lowercase)");
}

}  // namespace

absl::StatusOr<TraceParentFields> ParseTraceParent(std::string_view text) {
  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (text.size() != 55) {
    return InvalidTraceParent("must be 55 characters, got " + std::to_string(text.size()));
  }
  if (text[2] != '-' || text[35] != '-' || text[52] != '-') {
    return InvalidTraceParent("fields must be separated by '-'");
  }
  if (text.substr(0, 2) != "00") {
    return InvalidTraceParent("unsupported version \"" + std::string(text.substr(0, 2)) + "\"");
  }
  TraceParentFields fields{std::string(text.substr(3, 32)), std::string(text.substr(36, 16)),
                           std::string(text.substr(53, 2))};
  if (!IsLowerHex(fields.trace_id) || !IsLowerHex(fields.span_id) || !IsLowerHex(fields.flags)) {
    return InvalidTraceParent("ids and flags must be lowercase hex digits");
  }
  if (AllZero(fields.trace_id)) return InvalidTraceParent("trace id must not be all zero");
  if (AllZero(fields.span_id)) return InvalidTraceParent("span id must not be all zero");
  return fields;
}

std::string NewTraceParent(const std::array<uint64_t, 3>& random) {
  const uint64_t high = random[0];
  const uint64_t low = random[0] == 0 ? NonZero(random[1]) : random[1];
  return "00-" + Hex(high) + Hex(low) + "-" + Hex(NonZero(random[2])) + "-01";
}

std::string TraceParent(std::string_view saga_traceparent, const std::string& saga_id,
                        const std::string& step, Phase phase, int attempt) {
  const std::string span_id = AttemptSpanId(saga_id, step, phase, attempt);
  if (auto fields = ParseTraceParent(saga_traceparent); fields.ok()) {
    return "00-" + fields->trace_id + "-" + span_id + "-" + fields->flags;
  }
  return "00-" + DerivedTraceId(saga_id) + "-" + span_id + "-01";
}

std::string TraceParent(const std::string& saga_id, const std::string& step, Phase phase,
                        int attempt) {
  return TraceParent("", saga_id, step, phase, attempt);
}

std::string SagaTraceParent(std::string_view stored, const std::string& saga_id) {
  if (ParseTraceParent(stored).ok()) return std::string(stored);
  return "00-" + DerivedTraceId(saga_id) + "-" + Hex(NonZero(Fnv1a(saga_id, 0x59a2))) + "-01";
}

}  // namespace skald::core
