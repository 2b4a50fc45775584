-- Skald's first schema: definitions, sagas, their steps and an append-only event history.
-- Released migrations are never edited: change the schema with a new numbered file.

CREATE TABLE definitions (
  name        text        NOT NULL,
  version     integer     NOT NULL CHECK (version > 0),
  document    jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);

CREATE TABLE sagas (
  id                  text        PRIMARY KEY,
  definition_name     text        NOT NULL,
  definition_version  integer     NOT NULL,
  state               text        NOT NULL CHECK (state IN
                        ('RUNNING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'FAILED')),
  input               jsonb       NOT NULL,
  error               text        NOT NULL DEFAULT '',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (definition_name, definition_version) REFERENCES definitions (name, version)
);

-- Recovery scans only the sagas still moving; a partial index keeps that cheap however many
-- finished sagas accumulate.
CREATE INDEX sagas_active_idx ON sagas (created_at)
  WHERE state IN ('RUNNING', 'COMPENSATING');
CREATE INDEX sagas_listing_idx ON sagas (created_at DESC, id DESC);

CREATE TABLE saga_steps (
  saga_id                text        NOT NULL REFERENCES sagas (id) ON DELETE CASCADE,
  position               integer     NOT NULL,
  name                   text        NOT NULL,
  state                  text        NOT NULL CHECK (state IN
                           ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'COMPENSATING',
                            'COMPENSATED', 'COMPENSATION_FAILED')),
  attempts               integer     NOT NULL DEFAULT 0,
  compensation_attempts  integer     NOT NULL DEFAULT 0,
  -- When the next attempt is due while the step waits out a backoff: a durable timer.
  retry_at               timestamptz,
  output                 jsonb,
  error                  text        NOT NULL DEFAULT '',
  outcome_unknown        boolean     NOT NULL DEFAULT false,
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (saga_id, position)
);

CREATE TABLE saga_events (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  saga_id    text        NOT NULL REFERENCES sagas (id) ON DELETE CASCADE,
  at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  type       text        NOT NULL,
  step       text,
  phase      text        CHECK (phase IN ('action', 'compensation')),
  attempt    integer     NOT NULL DEFAULT 0,
  detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX saga_events_saga_idx ON saga_events (saga_id, id);
