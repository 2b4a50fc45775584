-- Tracing and notifications: each saga keeps the W3C trace context its participant calls
-- continue and the callback URL its starter asked for; completion notifications and alerts
-- wait in an outbox, written in the same transaction as the transition they report, until
-- a coordinator's notifier has delivered them.

-- "00-<trace id>-<span id>-<flags>" given on start or generated. NULL for sagas stored
-- before this migration: their trace id stays derived from the saga id.
ALTER TABLE sagas ADD COLUMN traceparent text;
-- Where to POST the saga's outcome, besides the definition's `notify` URL; NULL for none.
ALTER TABLE sagas ADD COLUMN callback_url text;
-- When the "unfinished for too long" alert was queued for the saga (at most once).
ALTER TABLE sagas ADD COLUMN stuck_alerted_at timestamptz;

-- The periodic scan for sagas unfinished for too long reads only those not alerted yet.
CREATE INDEX sagas_unalerted_idx ON sagas (created_at)
  WHERE state IN ('RUNNING', 'COMPENSATING', 'FAILED') AND stuck_alerted_at IS NULL;

CREATE TABLE notification_outbox (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  saga_id          text        NOT NULL REFERENCES sagas (id) ON DELETE CASCADE,
  -- The X-Skald-Event header: a saga's outcome or an alert for operators.
  event            text        NOT NULL CHECK (event IN ('saga.finished', 'alert')),
  url              text        NOT NULL,
  -- The JSON body, fixed when the row is written: every attempt sends the same bytes.
  payload          jsonb       NOT NULL,
  -- Alerts that fire once per saga (and step) carry a key; a second one is not queued.
  dedup_key        text        UNIQUE,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- When the next attempt is due; a notifier that takes the row pushes it out while it
  -- delivers (its claim), so that other coordinators skip it.
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  attempts         integer     NOT NULL DEFAULT 0,
  last_attempt_at  timestamptz,
  last_error       text        NOT NULL DEFAULT '',
  delivered_at     timestamptz
);

-- Notifiers claim due rows with FOR UPDATE SKIP LOCKED: only undelivered rows are indexed,
-- so a claim never walks past the delivered ones.
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at, id)
  WHERE delivered_at IS NULL;
CREATE INDEX notification_outbox_saga_idx ON notification_outbox (saga_id);
