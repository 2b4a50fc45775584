#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "coordinator/observability/coordinator_metrics.h"
#include "coordinator/store/saga_store.h"

namespace skald::engine {

// A monotonic clock's reading: intervals are measured with it, so that a jump of the wall
// clock neither stops renewals nor makes them run wild.
using MonotonicTime = std::chrono::steady_clock::time_point;

struct LeaseKeeperOptions {
  store::LeaseHolder holder;
  std::chrono::milliseconds renew_interval{1'500};
  std::chrono::milliseconds claim_interval{1'000};
  int claim_batch = 200;
  std::function<MonotonicTime()> monotonic_now = [] { return std::chrono::steady_clock::now(); };
  // Where lease takeovers are counted; none when null. Must outlive the keeper.
  observability::CoordinatorMetrics* metrics = nullptr;
};

// Keeps one coordinator's leases: renews the ones it holds every renew_interval, and claims
// free or expired ones, handing each claimed saga to whoever drives it. It owns no thread:
// the engine's lease thread calls Tick between waits, the simulator calls it at simulated
// times. Not thread-safe: one caller at a time.
class LeaseKeeper {
 public:
  // Runs on the caller's thread, for each saga claimed: it must be driven from now on.
  using OnClaimed = std::function<void(const store::Lease&)>;
  // Runs on the caller's thread after each successful renewal, with every lease still held
  // (a saga missing from it was claimed by another coordinator).
  using OnRenewed = std::function<void(std::vector<store::Lease>)>;

  LeaseKeeper(store::SagaStore& store, LeaseKeeperOptions options, OnClaimed on_claimed,
              OnRenewed on_renewed);

  // Renews the leases held when a renewal is due (the first one renew_interval after the
  // first tick), then claims free or expired leases once. Returns true when the claim filled
  // a whole batch: more are waiting, and Tick should run again at once. Store errors are
  // logged and the next tick tries again (a lease lost meanwhile needs no action here: the
  // saga's next commit is fenced and the engine lets it go then).
  bool Tick();

  // The longest the caller should wait between ticks, unless another coordinator announces
  // released sagas (then: at once).
  std::chrono::milliseconds interval() const {
    return std::min(options_.claim_interval, options_.renew_interval);
  }

 private:
  store::SagaStore& store_;
  const LeaseKeeperOptions options_;
  const OnClaimed on_claimed_;
  const OnRenewed on_renewed_;
  std::optional<MonotonicTime> next_renewal_;
};

}  // namespace skald::engine
