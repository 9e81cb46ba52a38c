-- The plans table is the queue. A `queued` plan is due at `due_at` (`delay_reason` says why
-- later than its submission: `backoff`, `scheduled` or `upstream_wait:{provider}`); a worker
-- claims due plans in batches with `claim_plans`, fairly between owners, and marks them
-- `running` under its name; workers heartbeat in `queue_workers`, and the plans of one gone
-- silent go back to the queue. The `apalis` schema of earlier versions is no longer used.
ALTER TABLE plans
    ADD COLUMN due_at timestamptz,
    ADD COLUMN delay_reason text,
    ADD COLUMN worker text;
UPDATE plans SET due_at = coalesce(next_attempt_at, created_at);
ALTER TABLE plans ALTER COLUMN due_at SET DEFAULT now(), ALTER COLUMN due_at SET NOT NULL;

-- The claim walks owners with due plans (a skip scan), then each owner's plans by due time.
CREATE INDEX plans_queue ON plans (owner, due_at, id) WHERE status = 'queued';
-- Plans running per owner, for the per-owner cap.
CREATE INDEX plans_running ON plans (owner) WHERE status = 'running';

CREATE TABLE queue_workers (
    name         text PRIMARY KEY,
    concurrency  integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Room on each page for a plan's next version: its progress writes become HOT updates.
ALTER TABLE plans SET (fillfactor = 80);

-- Claims up to `max_plans` due plans for `worker`. Owners are served in turn, starting after
-- `after_owner` (the last owner the worker served) and wrapping around: each owner gets as
-- many of its due plans, oldest first, as its room under `owner_cap` running plans allows,
-- until the batch is full. Each claim starts an attempt (`runs` and `attempts` + 1), records
-- a `started` event and, for a plan with no checkpoint yet, the start of the graph's `entry`
-- node (when given); it returns the plans in the order served, with the checkpoints their
-- earlier runs saved. Claims are serialised by an advisory lock, so that no owner's count of
-- running plans is read stale by two claims at once.
CREATE FUNCTION claim_plans(worker text, max_plans integer, owner_cap integer, entry text, after_owner text)
RETURNS TABLE (
    id uuid, owner text, runs integer, attempts integer, max_attempts integer, request jsonb,
    approval jsonb, created_at timestamptz, first_start boolean, trace_context jsonb, checkpoints jsonb
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    claimer text := worker;
    first_node text := entry;
    cursor_owner text := coalesce(after_owner, '');
    current text;
    wrapped boolean := false;
    room integer;
    taken uuid[] := '{}';
BEGIN
    PERFORM pg_advisory_xact_lock(8101551010357408372);
    current := (SELECT q.owner FROM plans q WHERE q.status = 'queued' AND q.due_at <= now() AND q.owner > cursor_owner
                ORDER BY q.owner LIMIT 1);
    LOOP
        IF current IS NULL THEN
            EXIT WHEN wrapped;
            wrapped := true;
            current := (SELECT q.owner FROM plans q WHERE q.status = 'queued' AND q.due_at <= now()
                        ORDER BY q.owner LIMIT 1);
            CONTINUE;
        END IF;
        -- Past the starting point a second time: every owner has had its turn.
        EXIT WHEN wrapped AND current > cursor_owner;
        room := least(owner_cap - (SELECT count(*) FROM plans r WHERE r.owner = current AND r.status = 'running'),
                      max_plans - cardinality(taken));
        IF room > 0 THEN
            taken := taken || ARRAY(
                SELECT q.id FROM plans q
                WHERE q.owner = current AND q.status = 'queued' AND q.due_at <= now()
                ORDER BY q.due_at, q.id LIMIT room);
            EXIT WHEN cardinality(taken) >= max_plans;
        END IF;
        current := (SELECT q.owner FROM plans q WHERE q.status = 'queued' AND q.due_at <= now() AND q.owner > current
                    ORDER BY q.owner LIMIT 1);
    END LOOP;
    IF cardinality(taken) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH picked AS (
        SELECT t.id, t.turn, q.started_at IS NULL AS first_start
        FROM unnest(taken) WITH ORDINALITY AS t(id, turn) JOIN plans q ON q.id = t.id
    ),
    claimed AS (
        UPDATE plans p SET status = 'running', runs = p.runs + 1, attempts = p.attempts + 1, worker = claimer,
            next_attempt_at = NULL, delay_reason = NULL, current_node = NULL,
            started_at = coalesce(p.started_at, now()), updated_at = now()
        FROM picked
        WHERE p.id = picked.id AND p.status = 'queued'
        RETURNING p.id, p.owner, p.runs, p.attempts, p.max_attempts, p.request, p.approval, p.created_at,
                  picked.first_start, p.trace_context, picked.turn
    ),
    saved AS (
        SELECT c.id,
               coalesce((SELECT jsonb_object_agg(k.node, k.output) FROM plan_checkpoints k WHERE k.plan_id = c.id),
                        '{}'::jsonb) AS checkpoints
        FROM claimed c
    ),
    logged AS (
        INSERT INTO plan_events (plan_id, kind, node, attempt, detail)
        SELECT e.plan_id, e.kind, e.node, e.attempt, e.detail FROM (
            SELECT c.id AS plan_id, 'started' AS kind, NULL::text AS node, c.attempts AS attempt,
                   jsonb_build_object('worker', claimer, 'run', c.runs) AS detail, c.turn, 1 AS step
            FROM claimed c
            UNION ALL
            SELECT c.id, 'node_started', first_node, c.attempts, '{}'::jsonb, c.turn, 2
            FROM claimed c JOIN saved s ON s.id = c.id
            WHERE s.checkpoints = '{}'::jsonb AND first_node IS NOT NULL
        ) e
        ORDER BY e.turn, e.step
    )
    SELECT c.id, c.owner, c.runs, c.attempts, c.max_attempts, c.request, c.approval, c.created_at, c.first_start,
           c.trace_context, s.checkpoints
    FROM claimed c JOIN saved s ON s.id = c.id
    ORDER BY c.turn;
END
$$;
