-- Long-running steps (issue 17): a participant may accept an attempt and complete it later
-- (SagaService.CompleteStep) under a completion token.
--
-- saga_steps.wait: set while the attempt in progress waits for its completion, as JSON
-- (core::WaitingToJson): since_ms, deadline_ms (the completion deadline),
-- heartbeat_deadline_ms, last_heartbeat_ms, heartbeat_details. It is part of the step's
-- state, written with it under the saga's lease like retry_at and deadline_at, and re-armed
-- as a timer by whichever coordinator takes the saga up.
-- saga_steps.closed_wait: how the step's last waiting attempt ended (completed with which
-- result, resolved by an operator, its deadline or heartbeat deadline passed), so that a
-- repeated completion is a no-op and a late or different one is refused saying why.
ALTER TABLE saga_steps ADD COLUMN wait jsonb, ADD COLUMN closed_wait jsonb;

-- Secrets shared by every coordinator of the cluster, created once by the first to need
-- one (INSERT ... ON CONFLICT DO NOTHING, then read back): the key completion tokens are
-- signed with (HMAC-SHA256), so that any coordinator checks a token another minted, and
-- nothing is written per token.
CREATE TABLE cluster_secrets (
  name       text PRIMARY KEY,
  secret     bytea NOT NULL CHECK (octet_length(secret) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
