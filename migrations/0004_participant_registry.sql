-- Participant discovery: running participant instances register the service they belong to,
-- the address to call them on and the handlers they serve, and renew before expires_at.
-- Every coordinator on the database reads the same registrations, whichever one a
-- participant registered with.

CREATE TABLE participant_instances (
  service text NOT NULL,
  instance_id text NOT NULL,
  address text NOT NULL,
  -- JSON arrays of handler names.
  actions jsonb NOT NULL,
  compensations jsonb NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now(),
  renewed_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (service, instance_id)
);

CREATE INDEX participant_instances_expires_idx ON participant_instances (expires_at);
