-- A claim names itself. A claim that committed but whose answer never reached its worker (the
-- connection dropped between the commit and the reply) left its plans `running` under a worker
-- that still heartbeats and never got them: nobody ran them until the stuck-plan rescue, after
-- the longest a run may take. Each claim now passes an id, kept on the plans it claims
-- (`plans.claim`), and holds a transaction-level advisory lock on it: a worker whose claim
-- failed takes that lock, which waits for the claim's transaction to end (an error can reach
-- the worker before the commit), then settles whatever that id claimed
-- (`store::runs::claimed_by`): nothing when the claim rolled back.
--
-- `claim_id` defaults to NULL so that workers of the previous release, which call the function
-- with five arguments, keep claiming during a rolling upgrade.
ALTER TABLE plans ADD COLUMN claim uuid;

DROP FUNCTION claim_plans(text, integer, integer, text, text);

CREATE FUNCTION claim_plans(worker text, max_plans integer, owner_cap integer, entry text, after_owner text,
                            claim_id uuid DEFAULT NULL)
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
    IF claim_id IS NOT NULL THEN
        -- 1885433203 is arbitrary and fixed: the claims' locks' namespace.
        PERFORM pg_advisory_xact_lock(1885433203, hashtext(claim_id::text));
    END IF;
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
    -- Rows are found by primary key only (see 20261128000011_claims_in_parallel.sql).
    RETURN QUERY
    WITH claimed AS (
        UPDATE plans p SET status = 'running', runs = p.runs + 1, attempts = p.attempts + 1, worker = claimer,
            claim = claim_id, next_attempt_at = NULL, delay_reason = NULL, current_node = NULL,
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
