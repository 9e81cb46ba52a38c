-- A claim chooses its plans in one statement.
--
-- `claim_plans` walked the owners in a PL/pgSQL loop: three or four statements per owner
-- (the next owner, its running count, its plans), each with the executor's start-up cost.
-- At 50 slots with 128 owners that loop was about 45 % of a claim (`bench-results/
-- 2026-12-07-queue-c50-waits.txt`). The walk is now one statement with the same order, the
-- same per-owner locks and the same rooms; the update and its events are unchanged.
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
    taken uuid[];
BEGIN
    -- Owners in turn: those after `after_owner`, then from the first up to it. Each is served
    -- only if no other claim is serving it right now (1885433202 is arbitrary and fixed,
    -- 'plnr': the owners' locks' namespace), up to its room under the cap, oldest plans first,
    -- until the claim is full. The LIMIT stops the walk: owners past the last one served are
    -- neither locked nor read.
    taken := ARRAY(
        WITH RECURSIVE later(owner) AS (
            (SELECT q.owner FROM plans q WHERE q.status = 'queued' AND q.due_at <= now() AND q.owner > cursor_owner
             ORDER BY q.owner LIMIT 1)
            UNION ALL
            SELECT (SELECT q.owner FROM plans q WHERE q.status = 'queued' AND q.due_at <= now() AND q.owner > l.owner
                    ORDER BY q.owner LIMIT 1)
            FROM later l WHERE l.owner IS NOT NULL
        ),
        earlier(owner) AS (
            (SELECT q.owner FROM plans q WHERE q.status = 'queued' AND q.due_at <= now() AND q.owner <= cursor_owner
             ORDER BY q.owner LIMIT 1)
            UNION ALL
            SELECT (SELECT q.owner FROM plans q WHERE q.status = 'queued' AND q.due_at <= now() AND q.owner > e.owner
                        AND q.owner <= cursor_owner
                    ORDER BY q.owner LIMIT 1)
            FROM earlier e WHERE e.owner IS NOT NULL
        ),
        turns AS (
            SELECT t.owner FROM later t WHERE t.owner IS NOT NULL
            UNION ALL
            SELECT t.owner FROM earlier t WHERE t.owner IS NOT NULL
        )
        SELECT c.id
        FROM turns t
        CROSS JOIN LATERAL (SELECT owner_cap - count(*) AS room FROM plans r WHERE r.owner = t.owner AND r.status = 'running') r
        CROSS JOIN LATERAL (SELECT q.id FROM plans q WHERE q.owner = t.owner AND q.status = 'queued' AND q.due_at <= now()
                            ORDER BY q.due_at, q.id LIMIT greatest(r.room, 0)) c
        WHERE pg_try_advisory_xact_lock(1885433202, hashtext(t.owner))
        LIMIT max_plans);
    IF cardinality(taken) = 0 THEN
        RETURN;
    END IF;
    -- Rows are found by primary key only (see 20261128000011_claims_in_parallel.sql).
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
               CASE WHEN c.runs = 1 THEN '{}'::jsonb
                    ELSE coalesce((SELECT jsonb_object_agg(k.node, k.output) FROM plan_checkpoints k WHERE k.plan_id = c.id),
                                  '{}'::jsonb)
               END AS checkpoints
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
