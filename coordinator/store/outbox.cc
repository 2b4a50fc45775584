#include "coordinator/store/outbox.h"

#include <algorithm>
#include <optional>
#include <pqxx/pqxx>

#include "coordinator/core/notification.h"
#include "coordinator/store/statements.h"

namespace skald::store {
namespace {

void QueueAlert(pqxx::work& tx, const std::string& saga_id, const std::string& url,
                const std::string& kind, std::optional<std::string> step, const std::string& error,
                std::optional<int> failures, std::optional<std::string> dedup_key) {
  tx.exec_prepared(PreparedName(stmt::kInsertAlert), saga_id, url, kind, step, error, failures,
                   dedup_key);
}

}  // namespace

bool FinishesSaga(const core::SagaState& before, const core::Transition& transition) {
  return transition.state.status != before.status && core::IsTerminal(transition.state.status);
}

void QueueAlerts(pqxx::work& tx, const core::SagaState& before, const core::Transition& transition,
                 const core::SagaDefinition& definition, const OutboxPolicy& policy) {
  if (policy.alert_url.empty()) return;
  const std::string& saga_id = transition.state.id;
  for (const core::Notice& notice :
       core::NoticesOf(before, transition, policy.alert_compensation_failures)) {
    switch (notice.kind) {
      case core::Notice::Kind::kSagaFinished:
        break;  // Queued by the batch statement itself (see FinishesSaga).
      case core::Notice::Kind::kSagaFailed:
        QueueAlert(tx, saga_id, policy.alert_url, "saga_failed", std::nullopt, notice.error,
                   std::nullopt, std::nullopt);
        break;
      case core::Notice::Kind::kCompensationFailing: {
        if (!notice.step) break;
        const std::string& step = definition.steps.at(*notice.step).name;
        QueueAlert(tx, saga_id, policy.alert_url, "compensation_failing", step, notice.error,
                   notice.failures, "compensation_failing/" + saga_id + "/" + step);
        break;
      }
    }
  }
}

absl::StatusOr<std::vector<OutboxDelivery>> OutboxStore::Claim(int limit,
                                                               std::chrono::milliseconds lease) {
  std::vector<OutboxDelivery> deliveries;
  absl::Status status = pool_.Run("claim notifications", [&](pqxx::connection& c) {
    deliveries.clear();
    pqxx::work tx(c);
    for (const auto& row : tx.exec_prepared(PreparedName(stmt::kClaimNotifications), limit,
                                            static_cast<long long>(lease.count()))) {
      deliveries.push_back(OutboxDelivery{row[0].as<int64_t>(), row[1].as<std::string>(),
                                          row[2].as<std::string>(), row[3].as<std::string>(),
                                          row[4].as<int>()});
    }
    tx.commit();
  });
  if (!status.ok()) return status;
  std::ranges::sort(deliveries, {}, &OutboxDelivery::id);
  return deliveries;
}

absl::Status OutboxStore::MarkDelivered(int64_t id) {
  return pool_.Run("record notification " + std::to_string(id) + " delivered",
                   [&](pqxx::connection& c) {
                     pqxx::work tx(c);
                     tx.exec_prepared(PreparedName(stmt::kMarkNotificationDelivered), id);
                     tx.commit();
                   });
}

absl::Status OutboxStore::MarkFailed(int64_t id, const std::string& error,
                                     std::chrono::milliseconds retry_in) {
  return pool_.Run("record a failed delivery of notification " + std::to_string(id),
                   [&](pqxx::connection& c) {
                     pqxx::work tx(c);
                     tx.exec_prepared(PreparedName(stmt::kMarkNotificationFailed), id, error,
                                      static_cast<long long>(retry_in.count()));
                     tx.commit();
                   });
}

absl::Status OutboxStore::Release(int64_t id) {
  return pool_.Run("release notification " + std::to_string(id), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_prepared(PreparedName(stmt::kReleaseNotification), id);
    tx.commit();
  });
}

absl::StatusOr<int> OutboxStore::QueueStuckAlerts(const std::string& alert_url,
                                                  std::chrono::milliseconds after, int limit) {
  int queued = 0;
  absl::Status status = pool_.Run("queue alerts for stuck sagas", [&](pqxx::connection& c) {
    pqxx::work tx(c);
    queued = static_cast<int>(tx.exec_prepared(PreparedName(stmt::kQueueStuckAlerts), alert_url,
                                               static_cast<long long>(after.count()), limit)
                                  .affected_rows());
    tx.commit();
  });
  if (!status.ok()) return status;
  return queued;
}

}  // namespace skald::store
