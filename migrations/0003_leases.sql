-- Several coordinators on one database: each unfinished saga is driven by the coordinator
-- holding its lease. Every state write carries the lease token, so a coordinator that lost
-- its lease (paused, partitioned) cannot overwrite the new owner's progress.

ALTER TABLE sagas ADD COLUMN owner text;
-- Incremented on every claim: the fencing token.
ALTER TABLE sagas ADD COLUMN lease_token bigint NOT NULL DEFAULT 0;
ALTER TABLE sagas ADD COLUMN lease_expires_at timestamptz;

-- Claims look for unfinished sagas whose lease is free or expired; renewals for those of one
-- owner. Both stay cheap however many finished sagas accumulate.
CREATE INDEX sagas_claimable_idx ON sagas (lease_expires_at NULLS FIRST, created_at)
  WHERE state IN ('RUNNING', 'COMPENSATING');
CREATE INDEX sagas_owner_idx ON sagas (owner) WHERE state IN ('RUNNING', 'COMPENSATING');
