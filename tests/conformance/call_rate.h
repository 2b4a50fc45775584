// How many calls per second a participant answers: N callers each sending one StepCall after
// another for a fixed time. Used to compare SDKs' no-op participants in one run.
#ifndef SKALD_TESTS_CONFORMANCE_CALL_RATE_H_
#define SKALD_TESTS_CONFORMANCE_CALL_RATE_H_

#include <string>

#include "absl/time/time.h"

namespace skald::conformance {

struct CallRate {
  long long calls = 0;     // answered with a success
  long long failures = 0;  // anything else (counted, not retried)
  absl::Duration elapsed;
  double per_second() const { return calls / absl::ToDoubleSeconds(elapsed); }
};

// Sends action calls of `handler` (input {}) to `address` from `concurrency` threads, each
// waiting for its answer before the next, for `duration`. Each call has a 5 s deadline.
CallRate MeasureCallRate(const std::string& address, const std::string& handler, int concurrency,
                         absl::Duration duration);

}  // namespace skald::conformance

#endif  // SKALD_TESTS_CONFORMANCE_CALL_RATE_H_
