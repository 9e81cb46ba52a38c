-- Finished plans exported to the results store (RESULTS_STORE: a folder or an S3 bucket), off
-- the plan's path: a worker with a store records the export in the statement that writes the
-- plan's success (same transaction), and an exporter in every such worker writes the objects
-- later, retrying while the store is down. A plan never waits for, or fails because of, the
-- store.
CREATE TABLE result_exports (
    plan_id         uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'exported')),
    -- Tries started; a try's claim pushes `next_attempt_at` past its lease, so an exporter
    -- killed mid-try leaves the export to another.
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    -- The JSON object's URL once written (the Markdown is beside it, `.md`).
    location        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    exported_at     timestamptz
);

CREATE INDEX result_exports_due ON result_exports (next_attempt_at) WHERE state = 'pending';

-- Objects to delete: the plan rows are gone (retention), so the deletion is its own outbox
-- row, written when the export row goes (the cascade of the plan's delete, in the cleaner's
-- transaction). No foreign key: the plan no longer exists.
CREATE TABLE result_deletions (
    plan_id         uuid PRIMARY KEY,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX result_deletions_due ON result_deletions (next_attempt_at);

-- An export never tried wrote nothing, so it leaves nothing to delete. One that is claimed
-- right now (its lease in the future) may still be writing: its deletion waits for the lease
-- to end, so that it cannot run before the write lands.
CREATE FUNCTION record_result_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_deletions (plan_id, next_attempt_at)
    VALUES (OLD.plan_id, CASE WHEN OLD.state = 'pending' THEN greatest(now(), OLD.next_attempt_at) ELSE now() END)
    ON CONFLICT (plan_id) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER result_exports_record_deletion
AFTER DELETE ON result_exports
FOR EACH ROW
WHEN (OLD.state = 'exported' OR OLD.attempts > 0)
EXECUTE FUNCTION record_result_deletion();
