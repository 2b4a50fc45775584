#include "tests/conformance/call_rate.h"

#include <atomic>
#include <thread>
#include <vector>

#include "tests/conformance/step_caller.h"

namespace skald::conformance {

CallRate MeasureCallRate(const std::string& address, const std::string& handler, int concurrency,
                         absl::Duration duration) {
  const StepCaller caller(address);
  // One call first, so that connecting is not measured.
  caller.Call({.saga_id = "warm-up", .step = "noop", .handler = handler});
  std::atomic<long long> calls{0};
  std::atomic<long long> failures{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  std::vector<std::thread> callers;
  for (int i = 0; i < concurrency; ++i) {
    callers.emplace_back([&, i] {
      for (long long n = 0; absl::Now() < end; ++n) {
        const CallResult result =
            caller.Call({.saga_id = "rate-" + std::to_string(i) + "-" + std::to_string(n),
                         .step = "noop",
                         .handler = handler,
                         .timeout = absl::Seconds(5)});
        (result.success() ? calls : failures).fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (std::thread& t : callers) t.join();
  return {.calls = calls.load(), .failures = failures.load(), .elapsed = absl::Now() - start};
}

}  // namespace skald::conformance
