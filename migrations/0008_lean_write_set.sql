-- A lean write set (issue 15): every transition rewrites its saga's row and its changed step
-- rows. Those updates can be HOT (no index entry written, the old version pruned in place)
-- only when no indexed column changes and the page has room. So:
-- * nothing indexed changes with every transition: retention finds finished sagas by a new
--   column, finished_at, set once when the saga finishes, instead of updated_at;
-- * lease renewals, which rewrite every unfinished saga of a coordinator every few seconds,
--   change no indexed column either: claims find expired leases among the unfinished sagas
--   through sagas_active_idx, instead of an index on lease_expires_at;
-- * pages keep room for the new versions (fillfactor);
-- * saga_events keeps one index, its primary key (saga_id, id), which serves the history
--   reads and the cascade from sagas, instead of two.

ALTER TABLE sagas ADD COLUMN finished_at timestamptz;
UPDATE sagas SET finished_at = updated_at WHERE state IN ('COMPLETED', 'COMPENSATED');
DROP INDEX sagas_finished_idx;
CREATE INDEX sagas_finished_idx ON sagas (finished_at)
  WHERE state IN ('COMPLETED', 'COMPENSATED');

DROP INDEX sagas_claimable_idx;

ALTER TABLE sagas SET (fillfactor = 80);
ALTER TABLE saga_steps SET (fillfactor = 80);

ALTER TABLE saga_events DROP CONSTRAINT saga_events_pkey;
DROP INDEX saga_events_saga_idx;
ALTER TABLE saga_events ADD PRIMARY KEY (saga_id, id);
