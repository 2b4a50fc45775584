-- The definition language: skipped steps, rendered step inputs, saga outputs, and durable
-- step and saga deadlines.

ALTER TABLE saga_steps DROP CONSTRAINT saga_steps_state_check;
ALTER TABLE saga_steps ADD CONSTRAINT saga_steps_state_check CHECK (state IN
  ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'COMPENSATING', 'COMPENSATED',
   'COMPENSATION_FAILED', 'SKIPPED'));
ALTER TABLE saga_steps ADD COLUMN input jsonb;
-- When the step's step_timeout passes while its action is being tried.
ALTER TABLE saga_steps ADD COLUMN deadline_at timestamptz;

ALTER TABLE sagas ADD COLUMN output jsonb;
-- When the saga's timeout passes.
ALTER TABLE sagas ADD COLUMN deadline_at timestamptz;
