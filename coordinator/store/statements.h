#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace skald::store {

// A prepared statement: every query the store sends is one of these, with $n parameters,
// so that no SQL is ever built from values.
struct Statement {
  std::string_view name;
  std::string_view sql;
};

const std::vector<Statement>& AllStatements();

// Returns the SQL of the statement named `name`, for the few sent unprepared so that each
// execution is planned with the tables as they are: the lease renewals, which run a few
// times a minute and whose plan made while the tables were small (a sequential scan) a
// prepared statement would keep.
// REQUIRES: `name` is one of stmt::k*.
std::string SqlOf(std::string_view name);

// Returns `statement` (one of stmt::k*) as the std::string libpqxx 6's exec_prepared takes.
inline std::string PreparedName(std::string_view statement) { return std::string(statement); }

namespace stmt {
inline constexpr std::string_view kInsertDefinition = "insert_definition";
inline constexpr std::string_view kSelectDefinition = "select_definition";
inline constexpr std::string_view kSelectLatestDefinition = "select_latest_definition";
inline constexpr std::string_view kInsertSaga = "insert_saga";
inline constexpr std::string_view kCreateSaga = "create_saga";
inline constexpr std::string_view kCreateSagas = "create_sagas";
inline constexpr std::string_view kInsertEvent = "insert_event";
inline constexpr std::string_view kSelectSaga = "select_saga";
inline constexpr std::string_view kSelectSteps = "select_steps";
inline constexpr std::string_view kSelectSagaOutcome = "select_saga_outcome";
inline constexpr std::string_view kUpdateSagas = "update_sagas";
inline constexpr std::string_view kUpdateSteps = "update_steps";
inline constexpr std::string_view kInsertEvents = "insert_events";
inline constexpr std::string_view kSelectActiveSagas = "select_active_sagas";
inline constexpr std::string_view kListSagas = "list_sagas";
inline constexpr std::string_view kCountSagas = "count_sagas";
inline constexpr std::string_view kSelectHistory = "select_history";
inline constexpr std::string_view kClaimSagas = "claim_sagas";
inline constexpr std::string_view kRenewLeases = "renew_leases";
inline constexpr std::string_view kRenewLeasesOf = "renew_leases_of";
inline constexpr std::string_view kReclaimOwnLeases = "reclaim_own_leases";
inline constexpr std::string_view kReleaseLeases = "release_leases";
inline constexpr std::string_view kNotifyWork = "notify_work";
inline constexpr std::string_view kTakeLease = "take_lease";
inline constexpr std::string_view kUpsertInstance = "upsert_instance";
inline constexpr std::string_view kSweepInstances = "sweep_instances";
inline constexpr std::string_view kDeleteInstance = "delete_instance";
inline constexpr std::string_view kSelectLiveInstances = "select_live_instances";
inline constexpr std::string_view kCountLiveInstances = "count_live_instances";
inline constexpr std::string_view kLockInstances = "lock_instances";
// Retention (see store/saga_store.h, DeleteFinishedSagas).
inline constexpr std::string_view kDeleteFinishedSagas = "delete_finished_sagas";
// The notification outbox (see store/outbox.h).
inline constexpr std::string_view kInsertAlert = "insert_alert";
inline constexpr std::string_view kQueueStuckAlerts = "queue_stuck_alerts";
inline constexpr std::string_view kClaimNotifications = "claim_notifications";
inline constexpr std::string_view kMarkNotificationDelivered = "mark_notification_delivered";
inline constexpr std::string_view kMarkNotificationFailed = "mark_notification_failed";
inline constexpr std::string_view kReleaseNotification = "release_notification";
// Readiness: this coordinator's heartbeat row (see store/write_probe.h).
inline constexpr std::string_view kBeatHeart = "beat_heart";
// The cluster's shared secrets (see store/cluster_secret.h).
inline constexpr std::string_view kInsertClusterSecret = "insert_cluster_secret";
inline constexpr std::string_view kSelectClusterSecret = "select_cluster_secret";
}  // namespace stmt

}  // namespace skald::store
