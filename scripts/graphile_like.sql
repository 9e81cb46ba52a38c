-- A graphile-worker-like job table (graphile-worker 0.16's jobs, trimmed to what a no-op job
-- touches): the reference both row-costs.sh and queue-ceiling.sh measure against.
CREATE TABLE graphile_like (id bigserial PRIMARY KEY, task text NOT NULL DEFAULT 'noop', payload json NOT NULL DEFAULT '{}',
    priority int NOT NULL DEFAULT 0, run_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 0,
    max_attempts int NOT NULL DEFAULT 25, locked_at timestamptz, locked_by text,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON graphile_like (priority, run_at) INCLUDE (id) WHERE locked_at IS NULL;
