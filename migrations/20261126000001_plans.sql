-- Plans, their per-node checkpoints and their timeline. The queue's own tables live in
-- the `apalis` schema and are created by apalis-postgres's migrations.
CREATE TABLE plans (
    id               uuid PRIMARY KEY,
    owner            text NOT NULL DEFAULT 'anonymous',
    idempotency_key  text,
    request          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'cancelled', 'rejected')),
    current_node     text,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 5,
    next_attempt_at  timestamptz,
    error            jsonb,
    warnings         jsonb NOT NULL DEFAULT '[]'::jsonb,
    result           jsonb,
    result_markdown  text,
    cancel_requested boolean NOT NULL DEFAULT false,
    approval         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, idempotency_key)
);

CREATE INDEX plans_owner_created ON plans (owner, created_at DESC, id DESC);
CREATE INDEX plans_status ON plans (status) WHERE status IN ('queued', 'running', 'awaiting_approval');

CREATE TABLE plan_checkpoints (
    plan_id    uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    node       text NOT NULL,
    output     jsonb NOT NULL,
    attempt    integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (plan_id, node)
);

CREATE TABLE plan_events (
    id         bigserial PRIMARY KEY,
    plan_id    uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    node       text,
    attempt    integer NOT NULL DEFAULT 0,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX plan_events_plan ON plan_events (plan_id, id);
