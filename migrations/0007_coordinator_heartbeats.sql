-- Readiness tells the truth (issue 13): each coordinator's /readyz writes its row here, at
-- most about once a second, so that a database that answers reads but refuses writes
-- (read-only after a failover, a revoked privilege) makes the coordinator not ready.
-- Rows of coordinators gone for a week are deleted by the same statement.
CREATE TABLE coordinator_heartbeats (
  node_id text PRIMARY KEY,
  beat_at timestamptz NOT NULL DEFAULT now()
);
