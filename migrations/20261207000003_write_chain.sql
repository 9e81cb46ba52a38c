-- A run's writes form a chain, and an attempt's end leaves evidence no later write replaces.
--
-- A write whose connection dropped may reach the server late: a pooler or the network holds
-- it while the worker, told the connection is gone, tries again, lands the write, and goes on
-- to the run's next write. Each write of a run therefore names the write it follows
-- (`store::progress`): it lands only on a plan whose `last_write` is that one, so the late
-- try, which follows an older write, writes nothing. A run's first write follows none: the
-- claim clears `last_write`.
--
-- An attempt's end (a retry, a wait, a hand-back, a park for approval, a failure) records its
-- write's id on the event it writes (`plan_events.write_id`). A try of the end after one whose
-- answer was lost asks whether that event exists: the plan may have been claimed and written
-- by another run since, which clears `last_write`, but never removes an event.
--
-- No default, no index: adding the column rewrites nothing; the question is asked of one
-- plan's events, found by the primary key (plan_id, id).
ALTER TABLE plan_events ADD COLUMN write_id uuid;

-- The function of 20261207000001_claim_ids.sql, its claim clearing `last_write`; the same
-- arguments, so workers of the previous release keep calling it during a rolling upgrade.
CREATE OR REPLACE FUNCTION claim_plans(worker text, max_plans integer, owner_cap integer, entry text, after_owner text,
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
            claim = claim_id, last_write = NULL, next_attempt_at = NULL, delay_reason = NULL, current_node = NULL,
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
