-- Claims that run side by side, and fewer index entries per plan.
--
-- A claim used to take one database-wide advisory lock and hold it through its commit, so
-- claims (of every worker) ran one after another, each waiting for the one before it to
-- reach the disk. Now a claim locks only the owners it serves, each with a transaction-scoped
-- lock it tries without waiting: an owner another claim is serving right now is skipped (its
-- plans are that claim's to take), and every owner's count of running plans is still read by
-- one claim at a time, after the claim before it committed. Claims serving different owners,
-- and their commits, overlap.
--
-- Every change of a plan's status writes a new entry in every index whose predicate the new
-- version meets. `plans_status` served only the open-status counts (`queue_depth`), which the
-- queue's own partial indexes answer, plus a small index of plans awaiting approval; and the
-- idempotency key's uniqueness needs entries only for plans that have a key.
DROP INDEX plans_status;
CREATE INDEX plans_awaiting_approval ON plans (id) WHERE status = 'awaiting_approval';
CREATE UNIQUE INDEX plans_owner_idempotency ON plans (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE plans DROP CONSTRAINT plans_owner_idempotency_key_key;

CREATE OR REPLACE FUNCTION claim_plans(worker text, max_plans integer, owner_cap integer, entry text, after_owner text)
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
        -- 1885433202 is arbitrary and fixed ('plnr'): the owners' locks' namespace.
        IF pg_try_advisory_xact_lock(1885433202, hashtext(current)) THEN
            room := least(owner_cap - (SELECT count(*) FROM plans r WHERE r.owner = current AND r.status = 'running'),
                          max_plans - cardinality(taken));
            IF room > 0 THEN
                taken := taken || ARRAY(
                    SELECT q.id FROM plans q
                    WHERE q.owner = current AND q.status = 'queued' AND q.due_at <= now()
                    ORDER BY q.due_at, q.id LIMIT room);
                EXIT WHEN cardinality(taken) >= max_plans;
            END IF;
        END IF;
        current := (SELECT q.owner FROM plans q WHERE q.status = 'queued' AND q.due_at <= now() AND q.owner > current
                    ORDER BY q.owner LIMIT 1);
    END LOOP;
    IF cardinality(taken) = 0 THEN
        RETURN;
    END IF;
    -- Rows are found by primary key only. The status checks are written `IS NOT DISTINCT
    -- FROM` so that no plan reads the partial index of queued (or running) plans instead:
    -- those hold an entry for every plan that ever had that status, until vacuum, and a
    -- bitmap scan of one visits them all. The order served is the order of `taken`
    -- (`array_position`: a few hundred ids, no join to plan badly).
    RETURN QUERY
    WITH claimed AS (
        UPDATE plans p SET status = 'running', runs = p.runs + 1, attempts = p.attempts + 1, worker = claimer,
            next_attempt_at = NULL, delay_reason = NULL, current_node = NULL,
            started_at = coalesce(p.started_at, now()), updated_at = now()
        WHERE p.id = ANY(taken) AND p.status IS NOT DISTINCT FROM 'queued'
        RETURNING p.id, p.owner, p.runs, p.attempts, p.max_attempts, p.request, p.approval, p.created_at,
                  p.started_at = now() AS first_start, p.trace_context, array_position(taken, p.id) AS turn
    ),
    saved AS (
        SELECT c.*,
               coalesce((SELECT jsonb_object_agg(k.node, k.output) FROM plan_checkpoints k WHERE k.plan_id = c.id),
                        '{}'::jsonb) AS checkpoints
        FROM claimed c
    ),
    logged AS (
        INSERT INTO plan_events (plan_id, kind, node, attempt, detail)
        SELECT e.plan_id, e.kind, e.node, e.attempt, e.detail FROM (
            SELECT s.id AS plan_id, 'started' AS kind, NULL::text AS node, s.attempts AS attempt,
                   jsonb_build_object('worker', claimer, 'run', s.runs) AS detail, s.turn, 1 AS step
            FROM saved s
            UNION ALL
            SELECT s.id, 'node_started', first_node, s.attempts, '{}'::jsonb, s.turn, 2
            FROM saved s
            WHERE s.checkpoints = '{}'::jsonb AND first_node IS NOT NULL
        ) e
        ORDER BY e.turn, e.step
    )
    SELECT s.id, s.owner, s.runs, s.attempts, s.max_attempts, s.request, s.approval, s.created_at, s.first_start,
           s.trace_context, s.checkpoints
    FROM saved s
    ORDER BY s.turn;
END
$$;

-- A plan's timeline is only ever read by plan: its primary key becomes (plan_id, id) — `id`
-- comes from a sequence and is unique alone — and the second index on (plan_id, id) goes.
-- Each event then writes one index entry instead of two.
ALTER TABLE plan_events DROP CONSTRAINT plan_events_pkey;
ALTER TABLE plan_events ADD PRIMARY KEY (plan_id, id);
DROP INDEX plan_events_plan;
