#include "coordinator/store/write_probe.h"

#include <pqxx/pqxx>

#include "coordinator/store/statements.h"

namespace skald::store {

WriteProbe::WriteProbe(ConnectionPool& pool, std::string node_id,
                       std::chrono::steady_clock::duration min_interval,
                       std::chrono::steady_clock::duration refusal_memory)
    : pool_(pool),
      node_id_(std::move(node_id)),
      min_interval_(min_interval),
      refusal_memory_(refusal_memory) {}

absl::Status WriteProbe::Check() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (!probed_at_ || now - *probed_at_ >= min_interval_) {
    last_ = pool_.Run("write the readiness heartbeat", [&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_prepared0(std::string(stmt::kBeatHeart), node_id_);
      tx.commit();
    });
    probed_at_ = std::chrono::steady_clock::now();
  }
  if (!last_.ok()) {
    // The operation is always the same: the cause after it is what a reader needs.
    absl::string_view message = last_.message();
    if (size_t colon = message.find(": "); colon != absl::string_view::npos) {
      message.remove_prefix(colon + 2);
    }
    return absl::UnavailableError("refuses writes: " + std::string(message));
  }
  if (std::optional<std::string> refusal = pool_.RecentWriteRefusal(refusal_memory_)) {
    return absl::UnavailableError("refused a write in the last few seconds: " + *refusal);
  }
  return absl::OkStatus();
}

}  // namespace skald::store
