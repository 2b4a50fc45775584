#include "coordinator/core/trace_context.h"

#include <cstdint>
#include <cstdio>

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

}  // namespace

std::string TraceParent(const std::string& saga_id, const std::string& step, Phase phase,
                        int attempt) {
  const std::string trace_id = Hex(Fnv1a(saga_id, 0x5a1d)) + Hex(NonZero(Fnv1a(saga_id, 0x7ace)));
  const std::string span_key =
      saga_id + '\0' + step + '\0' + std::string(ToString(phase)) + '\0' + std::to_string(attempt);
  return "00-" + trace_id + "-" + Hex(NonZero(Fnv1a(span_key, 0x59a2))) + "-01";
}

}  // namespace skald::core
