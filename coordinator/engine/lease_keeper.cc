#include "coordinator/engine/lease_keeper.h"

#include <spdlog/spdlog.h>

namespace skald::engine {

LeaseKeeper::LeaseKeeper(store::SagaStore& store, LeaseKeeperOptions options, OnClaimed on_claimed,
                         OnRenewed on_renewed)
    : store_(store),
      options_(std::move(options)),
      on_claimed_(std::move(on_claimed)),
      on_renewed_(std::move(on_renewed)) {}

bool LeaseKeeper::Tick() {
  if (!next_renewal_) next_renewal_ = options_.monotonic_now() + options_.renew_interval;
  if (options_.monotonic_now() >= *next_renewal_) {
    auto renewed = store_.RenewLeases(options_.holder);
    if (!renewed.ok()) {
      spdlog::warn("engine: renewing leases failed: {}", std::string(renewed.status().message()));
    } else {
      on_renewed_(*std::move(renewed));
    }
    next_renewal_ = options_.monotonic_now() + options_.renew_interval;
  }
  auto claimed = store_.ClaimSagas(options_.holder, options_.claim_batch);
  if (!claimed.ok()) {
    spdlog::warn("engine: claiming sagas failed: {}", std::string(claimed.status().message()));
    return false;
  }
  for (const store::Lease& lease : *claimed) on_claimed_(lease);
  if (!claimed->empty()) {
    spdlog::info("engine {}: took over {} saga(s)", options_.holder.owner, claimed->size());
    if (options_.metrics) options_.metrics->LeasesTakenOver(claimed->size());
  }
  return static_cast<int>(claimed->size()) == options_.claim_batch;
}

}  // namespace skald::engine
