#include "coordinator/store/statements.h"

namespace skald::store {

// Timestamps travel as milliseconds since the epoch, so that C++ never parses dates.
#define SKALD_MS(column) "(extract(epoch FROM " column ") * 1000)::bigint"
#define SKALD_RFC3339(column) \
  "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

const std::vector<Statement>& AllStatements() {
  static const std::vector<Statement> statements = {
      {stmt::kInsertDefinition,
       "INSERT INTO definitions (name, version, document) VALUES ($1, $2, $3::jsonb) "
       "ON CONFLICT (name, version) DO NOTHING"},
      {stmt::kSelectDefinition,
       "SELECT version, document::text FROM definitions WHERE name = $1 AND version = $2"},
      {stmt::kSelectLatestDefinition,
       "SELECT version, document::text FROM definitions WHERE name = $1 "
       "ORDER BY version DESC LIMIT 1"},
      {stmt::kInsertSaga,
       "INSERT INTO sagas (id, definition_name, definition_version, state, input, owner, "
       "lease_token, lease_expires_at, traceparent, callback_url) "
       "VALUES (COALESCE($1, gen_random_uuid()::text), $2, $3, 'RUNNING', $4::jsonb, $5, "
       "1, "
       "now() + $6 * interval '1 millisecond', $7, $8) "
       "ON CONFLICT (id) DO NOTHING RETURNING id"},
      // A saga with its PENDING steps and its first event, in one statement: sent outside
      // an explicit transaction, it commits in a single round trip. Returns no row when
      // the id is taken.
      {stmt::kCreateSaga,
       "WITH saga AS (INSERT INTO sagas (id, definition_name, definition_version, state, input, "
       "owner, lease_token, lease_expires_at, traceparent, callback_url) "
       "VALUES (COALESCE($1, gen_random_uuid()::text), $2, $3, 'RUNNING', $4::jsonb, $5, 1, "
       "now() + $6 * interval '1 millisecond', $7, $8) "
       "ON CONFLICT (id) DO NOTHING RETURNING id), "
       "steps AS (INSERT INTO saga_steps (saga_id, position, name, state) "
       "SELECT saga.id, step.ordinality - 1, step.name, 'PENDING' FROM saga, "
       "jsonb_array_elements_text($9::jsonb) WITH ORDINALITY AS step(name, ordinality)), "
       "created AS (INSERT INTO saga_events (saga_id, type, detail) "
       "SELECT saga.id, 'saga_created', $10::jsonb FROM saga) "
       "SELECT id FROM saga"},
      // Many sagas as kCreateSaga creates one, in one statement: the rows ($1, a JSON array,
      // `i` their place in it; no id repeated) are inserted in id order, so that two batches
      // that start the same requested ids wait for each other in one order and never
      // deadlock. A saga whose id is taken is skipped, with its steps and event; each row
      // comes back with its id and whether it was inserted. One statement per batch instead
      // of one per saga: the statement's fixed cost (parse, plan, executor start, triggers)
      // was most of PostgreSQL's time for a start. Read under LIMIT (see kUpdateSagas).
      {stmt::kCreateSagas,
       "WITH r AS MATERIALIZED (SELECT i, coalesce(id, gen_random_uuid()::text) AS id, "
       "definition_name, definition_version, input, traceparent, callback_url, steps, detail "
       "FROM jsonb_to_recordset($1::jsonb) AS r(i integer, id text, definition_name text, "
       "definition_version integer, input jsonb, traceparent text, callback_url text, "
       "steps jsonb, detail jsonb) LIMIT $4), "
       "saga AS (INSERT INTO sagas (id, definition_name, definition_version, state, input, "
       "owner, lease_token, lease_expires_at, traceparent, callback_url) "
       "SELECT id, definition_name, definition_version, 'RUNNING', input, $2, 1, "
       "now() + $3 * interval '1 millisecond', traceparent, callback_url FROM r ORDER BY id "
       "ON CONFLICT (id) DO NOTHING RETURNING id), "
       "steps AS (INSERT INTO saga_steps (saga_id, position, name, state) "
       "SELECT r.id, step.ordinality - 1, step.name, 'PENDING' FROM r JOIN saga USING (id), "
       "jsonb_array_elements_text(r.steps) WITH ORDINALITY AS step(name, ordinality)), "
       "created AS (INSERT INTO saga_events (saga_id, type, detail) "
       "SELECT r.id, 'saga_created', r.detail FROM r JOIN saga USING (id) ORDER BY r.id) "
       "SELECT r.i, r.id, saga.id IS NOT NULL FROM r LEFT JOIN saga USING (id)"},
      {stmt::kInsertEvent,
       "INSERT INTO saga_events (saga_id, type, step, phase, attempt, detail) "
       "VALUES ($1, $2, $3, $4, $5, $6::jsonb)"},
      {stmt::kSelectSaga,
       "SELECT definition_name, definition_version, state, input::text, "
       "error, " SKALD_RFC3339("created_at") ", " SKALD_RFC3339(
           "updated_at") ", output::text, " SKALD_MS("deadline_at") ", "
                                                                    "coalesce(traceparent, ''), "
                                                                    "coalesce(callback_url, '') "
                                                                    "FROM sagas WHERE id "
                                                                    "= $1"},
      {stmt::kSelectSagaOutcome, "SELECT state, error FROM sagas WHERE id = $1"},
      {stmt::kSelectSteps,
       "SELECT name, state, attempts, compensation_attempts, " SKALD_MS(
           "retry_at") ", output::text, error, outcome_unknown, "
                       "input::text, " SKALD_MS(
                           "deadline_at") ", wait::text, closed_wait::text FROM "
                                          "saga_"
                                          "steps "
                                          "WHERE "
                                          "saga_"
                                          "id = "
                                          "$1 "
                                          "ORDER "
                                          "BY "
                                          "positio"
                                          "n"},
      // A batch of transitions is written with three statements, whatever its size: each
      // takes the batch's rows as one JSON array (jsonb_to_recordset), so that a batch costs
      // a few round trips instead of several per saga. A JSON null is an SQL NULL there.
      // They are prepared and run with sequential scans disabled (CommitTransitions): a
      // generic plan made while the tables were small would otherwise scan them whole for
      // ever, and planning each execution cost about a fifth of PostgreSQL's time for a
      // saga (the update of sagas alone took 0.8 ms to plan). The rows are read under `LIMIT <their
      // count>`: the planner takes a set-returning function for 100 rows, and against a table of
      // some 20,000 rows or fewer (a young or well-swept database) 100 lookups cost more
      // than one sequential scan and a hash join, which it then chose for a batch of ten
      // (60 % of PostgreSQL's CPU in the benchmark). The limit is the planner's estimate.
      // The saga rows first. `locked` takes their row locks in id order, whatever order the
      // batch lists them in, and checks each lease token (fencing): every statement that locks
      // several sagas rows takes them in id order (or skips locked ones), so two of them can
      // wait for each other but never deadlock. The rows stay locked until commit, so no claim
      // slips in between; the ids returned are the sagas whose writes go on. finished_at is
      // set once, when the saga finishes (retention's index; updated_at changes with every
      // transition and is indexed nowhere, so that these updates can be HOT). A finished saga
      // with somewhere to send its outcome (the definition's notify URL, given as `notify`,
      // or its callback_url) has it queued in the outbox here, built from the row as written
      // (one row per distinct URL); the others cost no outbox statement at all.
      {stmt::kUpdateSagas,
       "WITH w AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) AS w(id text, "
       "state text, error text, output jsonb, deadline_ms bigint, lease_token bigint, "
       "finished boolean, notify text) LIMIT $3), "
       "locked AS (SELECT s.id FROM sagas s JOIN w ON s.id = w.id "
       "WHERE s.owner = $2 AND s.lease_token = w.lease_token ORDER BY s.id FOR UPDATE OF s), "
       "updated AS (UPDATE sagas AS s SET state = w.state, error = w.error, output = w.output, "
       "deadline_at = to_timestamp(w.deadline_ms::double precision / 1000), updated_at = now(), "
       "finished_at = CASE WHEN w.state IN ('COMPLETED', 'COMPENSATED') "
       "THEN coalesce(s.finished_at, now()) END "
       "FROM locked JOIN w ON w.id = locked.id WHERE s.id = locked.id "
       "RETURNING s.id, s.definition_name, s.definition_version, s.state, s.error, s.output, "
       "s.created_at, s.updated_at, s.callback_url, w.finished, w.notify), "
       "notices AS (INSERT INTO notification_outbox (saga_id, event, url, payload) "
       "SELECT u.id, 'saga.finished', r.url, jsonb_build_object('saga_id', u.id, "
       "'definition', u.definition_name, 'version', u.definition_version, 'state', u.state, "
       "'error', u.error, 'output', u.output, "
       "'created_at', " SKALD_RFC3339(
           "u.created_at") ", "
                           "'finished_at', " SKALD_RFC3339(
                               "u.updated_at") ") "
                                               "FROM updated u CROSS JOIN LATERAL (SELECT DISTINCT "
                                               "x AS url "
                                               "FROM unnest(ARRAY[u.notify, u.callback_url]) AS x "
                                               "WHERE x IS NOT NULL AND x <> '') r "
                                               "WHERE u.finished) "
                                               "SELECT id FROM updated"},
      {stmt::kUpdateSteps,
       "UPDATE saga_steps AS t SET state = w.state, attempts = w.attempts, "
       "compensation_attempts = w.compensation_attempts, "
       "retry_at = to_timestamp(w.retry_ms::double precision / 1000), output = w.output, "
       "error = w.error, outcome_unknown = w.outcome_unknown, input = w.input, "
       "deadline_at = to_timestamp(w.deadline_ms::double precision / 1000), wait = w.wait, "
       "closed_wait = w.closed_wait, updated_at = now() "
       "FROM (SELECT * FROM jsonb_to_recordset($1::jsonb) AS w(saga_id text, position integer, "
       "state text, attempts integer, compensation_attempts integer, retry_ms bigint, "
       "output jsonb, error text, outcome_unknown boolean, input jsonb, deadline_ms bigint, "
       "wait jsonb, closed_wait jsonb) LIMIT $2) AS w "
       "WHERE t.saga_id = w.saga_id AND t.position = w.position"},
      // Ordered by `seq`, so that event ids follow the order the state machine recorded.
      {stmt::kInsertEvents,
       "INSERT INTO saga_events (saga_id, type, step, phase, attempt, detail) "
       "SELECT saga_id, type, step, phase, attempt, coalesce(detail, 'null'::jsonb) "
       "FROM jsonb_to_recordset($1::jsonb) AS e(seq integer, saga_id text, type text, step text, "
       "phase text, attempt integer, detail jsonb) ORDER BY seq"},
      // Free or expired leases of unfinished sagas, oldest first; SKIP LOCKED lets
      // coordinators claim side by side without waiting on each other.
      {stmt::kClaimSagas,
       "UPDATE sagas SET owner = $1, lease_token = lease_token + 1, "
       "lease_expires_at = now() + $2 * interval '1 millisecond' "
       "WHERE id IN (SELECT id FROM sagas WHERE state IN ('RUNNING', 'COMPENSATING') "
       "AND (lease_expires_at IS NULL OR lease_expires_at < now()) "
       "ORDER BY lease_expires_at NULLS FIRST, created_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
       "RETURNING id, lease_token"},
      // Renewal locks this owner's rows in id order and skips those locked by a batch being
      // written (see kUpdateSagas): it never waits, so it never takes part in a deadlock.
      // `skipped` lists them (from the statement's snapshot, unlocked) for kRenewLeasesOf.
      {stmt::kRenewLeases,
       "WITH mine AS (SELECT id FROM sagas WHERE owner = $1 "
       "AND state IN ('RUNNING', 'COMPENSATING') ORDER BY id FOR UPDATE SKIP LOCKED), "
       "renewed AS (UPDATE sagas s SET lease_expires_at = now() + $2 * interval '1 millisecond' "
       "FROM mine WHERE s.id = mine.id RETURNING s.id, s.lease_token) "
       "SELECT id, lease_token, true FROM renewed UNION ALL "
       "SELECT id, lease_token, false FROM sagas WHERE owner = $1 "
       "AND state IN ('RUNNING', 'COMPENSATING') AND id NOT IN (SELECT id FROM renewed)"},
      // The rows kRenewLeases skipped ($3, a JSON array of ids): few, and locked in id order,
      // waiting for the batches that hold them to commit.
      {stmt::kRenewLeasesOf,
       "WITH mine AS (SELECT id FROM sagas WHERE id IN (SELECT jsonb_array_elements_text($3)) "
       "AND owner = $1 AND state IN ('RUNNING', 'COMPENSATING') ORDER BY id FOR UPDATE) "
       "UPDATE sagas s SET lease_expires_at = now() + $2 * interval '1 millisecond' "
       "FROM mine WHERE s.id = mine.id RETURNING s.id, s.lease_token"},
      {stmt::kReclaimOwnLeases,
       "WITH mine AS (SELECT id FROM sagas WHERE owner = $1 "
       "AND state IN ('RUNNING', 'COMPENSATING') ORDER BY id FOR UPDATE) "
       "UPDATE sagas s SET lease_token = s.lease_token + 1, "
       "lease_expires_at = now() + $2 * interval '1 millisecond' "
       "FROM mine WHERE s.id = mine.id RETURNING s.id, s.lease_token"},
      {stmt::kReleaseLeases,
       "WITH mine AS (SELECT id FROM sagas WHERE owner = $1 "
       "AND state IN ('RUNNING', 'COMPENSATING') ORDER BY id FOR UPDATE) "
       "UPDATE sagas s SET owner = NULL, lease_expires_at = NULL FROM mine WHERE s.id = mine.id"},
      {stmt::kNotifyWork, "SELECT pg_notify('skald_work', $1)"},
      {stmt::kTakeLease,
       "UPDATE sagas SET lease_token = CASE WHEN owner = $2 THEN lease_token "
       "ELSE lease_token + 1 END, owner = $2, "
       "lease_expires_at = now() + $3 * interval '1 millisecond' "
       "WHERE id = $1 RETURNING lease_token"},
      {stmt::kSelectActiveSagas,
       "SELECT id FROM sagas WHERE state IN ('RUNNING', 'COMPENSATING') ORDER BY "
       "created_at"},
      // Paging is by keyset on (created_at, id); the cursor is created_at as text, which
      // PostgreSQL reads back to the exact microsecond.
      {stmt::kListSagas, "SELECT id, definition_name, definition_version, state, error, "
       // clang-format off
       SKALD_RFC3339("created_at") ", " SKALD_RFC3339("updated_at") ", created_at::text "
                         // clang-format on
                         "FROM sagas WHERE ($1::text IS NULL OR state = $1) "
                         "AND ($2::text IS NULL OR definition_name = $2) "
                         "AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, "
                         "$4::text)) "
                         "AND ($6::timestamptz IS NULL OR created_at >= $6::timestamptz) "
                         "AND ($7::timestamptz IS NULL OR created_at < $7::timestamptz) "
                         "ORDER BY created_at DESC, id DESC LIMIT $5"},
      {stmt::kCountSagas,
       "SELECT state, count(*) FROM sagas WHERE ($1::text IS NULL OR definition_name = $1) "
       "GROUP BY state"},
      {stmt::kSelectHistory, "SELECT id, "
       // clang-format off
       SKALD_RFC3339("at")
       // clang-format on
       ", type, coalesce(step, ''), coalesce(phase, ''), attempt, detail::text "
       "FROM saga_events WHERE saga_id = $1 AND id > $2 ORDER BY id LIMIT $3"},
      // Registrations: the database's clock decides expiry, so that coordinators and
      // participants need not agree on the time. Registering also sweeps registrations
      // expired for an hour, which nobody reads any more.
      {stmt::kUpsertInstance,
       "INSERT INTO participant_instances (service, instance_id, address, actions, "
       "compensations, expires_at) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, "
       "now() + $6 * interval '1 millisecond') ON CONFLICT (service, instance_id) DO UPDATE "
       "SET address = EXCLUDED.address, actions = EXCLUDED.actions, "
       "compensations = EXCLUDED.compensations, renewed_at = now(), "
       "expires_at = EXCLUDED.expires_at"},
      {stmt::kSweepInstances,
       "DELETE FROM participant_instances WHERE expires_at < now() - interval '1 hour'"},
      {stmt::kDeleteInstance,
       "DELETE FROM participant_instances WHERE service = $1 AND instance_id = $2"},
      {stmt::kSelectLiveInstances,
       "SELECT service, instance_id, address, actions::text, compensations::text, "
       // clang-format off
       SKALD_MS("registered_at") ", " SKALD_MS("renewed_at") ", " SKALD_MS("expires_at")
       // clang-format on
       " FROM participant_instances WHERE expires_at > now() "
       "ORDER BY service, address, instance_id"},
      // Registrations are bounded (RegistrationLimits): $1 service, $2 instance id.
      {stmt::kCountLiveInstances,
       "SELECT count(*) FILTER (WHERE service = $1), count(*), "
       "coalesce(bool_or(service = $1 AND instance_id = $2), false) "
       "FROM participant_instances WHERE expires_at > now()"},
      // Conflicts with itself and with writes, not with reads: one new registration is
      // counted at a time.
      {stmt::kLockInstances, "LOCK TABLE participant_instances IN SHARE ROW EXCLUSIVE MODE"},
      // clang-format off
      // The notification outbox (completion notices: see kUpdateSagas). Bodies are built
      // here, from the saga's row as the same transaction just wrote it, and fixed: every
      // attempt sends the same bytes.
      // $1 saga id, $2 alert URL, $3 kind, $4 step or NULL, $5 error, $6 failures or NULL,
      // $7 dedup key or NULL (an alert with a key already queued is not queued again).
      {stmt::kInsertAlert,
       "INSERT INTO notification_outbox (saga_id, event, url, payload, dedup_key) "
       "SELECT s.id, 'alert', $2::text, jsonb_strip_nulls(jsonb_build_object('kind', $3::text, "
       "'saga_id', s.id, 'definition', s.definition_name, 'version', s.definition_version, "
       "'state', s.state, 'step', $4::text, 'failures', $6::integer, 'error', $5::text, "
       "'created_at', " SKALD_RFC3339("s.created_at") ", 'at', " SKALD_RFC3339("now()") ")), "
       "$7::text FROM sagas s WHERE s.id = $1 ON CONFLICT (dedup_key) DO NOTHING"},
      // $1 alert URL, $2 threshold ms, $3 limit. Marks the sagas so each is alerted once;
      // SKIP LOCKED leaves sagas being written (or scanned elsewhere) to the next scan.
      {stmt::kQueueStuckAlerts,
       "WITH stuck AS (UPDATE sagas SET stuck_alerted_at = now() WHERE id IN ("
       "SELECT id FROM sagas WHERE state IN ('RUNNING', 'COMPENSATING', 'FAILED') "
       "AND stuck_alerted_at IS NULL AND created_at < now() - $2 * interval '1 millisecond' "
       "ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
       "RETURNING id, definition_name, definition_version, state, error, created_at) "
       "INSERT INTO notification_outbox (saga_id, event, url, payload, dedup_key) "
       "SELECT id, 'alert', $1::text, jsonb_build_object('kind', 'saga_stuck', 'saga_id', id, "
       "'definition', definition_name, 'version', definition_version, 'state', state, "
       "'error', error, "
       "'created_at', " SKALD_RFC3339("created_at") ", 'at', " SKALD_RFC3339("now()") ", "
       "'unfinished_seconds', extract(epoch FROM now() - created_at)::bigint), "
       "'saga_stuck/' || id FROM stuck ON CONFLICT (dedup_key) DO NOTHING"},
      // Due rows, oldest first, pushed $2 ms out while this notifier delivers them.
      // SKIP LOCKED: coordinators sweeping side by side take different rows, and a saga
      // row locked by a writer is left for the next sweep. Steps, events and outbox rows
      // go with it (ON DELETE CASCADE).
      {stmt::kDeleteFinishedSagas,
       "DELETE FROM sagas WHERE id IN (SELECT id FROM sagas "
       "WHERE state IN ('COMPLETED', 'COMPENSATED') "
       "AND finished_at < now() - $1 * interval '1 millisecond' "
       "ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)"},
      {stmt::kClaimNotifications,
       "UPDATE notification_outbox SET next_attempt_at = now() + $2 * interval '1 millisecond' "
       "WHERE id IN (SELECT id FROM notification_outbox WHERE delivered_at IS NULL "
       "AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT $1 "
       "FOR UPDATE SKIP LOCKED) RETURNING id, event, url, payload::text, attempts"},
      {stmt::kMarkNotificationDelivered,
       "UPDATE notification_outbox SET attempts = attempts + 1, last_attempt_at = now(), "
       "last_error = '', delivered_at = now() WHERE id = $1 AND delivered_at IS NULL"},
      {stmt::kMarkNotificationFailed,
       "UPDATE notification_outbox SET attempts = attempts + 1, last_attempt_at = now(), "
       "last_error = $2, next_attempt_at = now() + $3 * interval '1 millisecond' "
       "WHERE id = $1 AND delivered_at IS NULL"},
      {stmt::kReleaseNotification,
       "UPDATE notification_outbox SET next_attempt_at = now() "
       "WHERE id = $1 AND delivered_at IS NULL"},
      // Readiness (see store/write_probe.h): one small write, and the rows of coordinators
      // gone for a week removed on the way.
      {stmt::kBeatHeart,
       "WITH gone AS (DELETE FROM coordinator_heartbeats "
       "WHERE beat_at < now() - interval '7 days' AND node_id <> $1) "
       "INSERT INTO coordinator_heartbeats (node_id, beat_at) VALUES ($1, now()) "
       "ON CONFLICT (node_id) DO UPDATE SET beat_at = excluded.beat_at"},
      // The cluster's shared secrets (see store/cluster_secret.h): created once by whoever
      // comes first, then read back by everyone.
      {stmt::kInsertClusterSecret,
       "INSERT INTO cluster_secrets (name, secret) VALUES ($1, decode($2, 'hex')) "
       "ON CONFLICT (name) DO NOTHING"},
      {stmt::kSelectClusterSecret,
       "SELECT encode(secret, 'hex') FROM cluster_secrets WHERE name = $1"},
      // clang-format on
  };
  return statements;
}

std::string SqlOf(std::string_view name) {
  for (const Statement& statement : AllStatements()) {
    if (statement.name == name) return std::string(statement.sql);
  }
  return {};
}

#undef SKALD_MS
#undef SKALD_RFC3339

}  // namespace skald::store
