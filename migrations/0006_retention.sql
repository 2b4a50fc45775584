-- Retention: a coordinator started with --retention deletes sagas that finished (COMPLETED
-- or COMPENSATED) longer ago than that, in small batches. Only finished sagas are indexed
-- by their end, so each batch finds its rows without walking past running ones; FAILED
-- sagas wait for an operator and are never deleted.
CREATE INDEX sagas_finished_idx ON sagas (updated_at)
  WHERE state IN ('COMPLETED', 'COMPENSATED');
