#!/usr/bin/env bash
# What a no-op job costs PostgreSQL in row writes alone, per table design, in one session (no
# client, no network, no concurrency): the floor under the queue core's speed at C=50, where
# PostgreSQL's share of the two cores is what runs out (README, "Performance").
#
#   scripts/row-costs.sh      # JOBS=50000 BATCH=250 REPS=2; needs the release binary's migrations
#
# Each design runs the same jobs in batches of BATCH, each step committed as the queue commits
# it (claim, then success), and prints microseconds per job:
#   plans          the plan's row as migrated: claim and success each write a new version in
#                  every index (the status changes, and the indexes' predicates read it)
#   plans_hot      status-dependent indexes moved to a narrow queue table: the plan's row
#                  changes in place (heap-only updates), the queue row is updated, then deleted
#   events         the job's two timeline rows (`started`, `succeeded`)
#   graphile_like  graphile-worker's job: one lock update, then a delete (bigint key)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-50000}
BATCH=${BATCH:-250}
REPS=${REPS:-2}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=row_costs_$$
PLANNER=${PLANNER:-$ROOT/target/release/planner}
[ -x "$PLANNER" ] || cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"

createdb "$DB"
trap 'dropdb --force "$DB" 2>/dev/null || true' EXIT
DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" "$PLANNER" migrate >/dev/null
psql -XqAt -v ON_ERROR_STOP=1 -f "$ROOT/scripts/graphile_like.sql" "$DB"

psql -XqAt -v ON_ERROR_STOP=1 -v jobs="$JOBS" -v batch="$BATCH" -v reps="$REPS" "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE TABLE plans_hot (LIKE plans INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (fillfactor = 60);
ALTER TABLE plans_hot ADD PRIMARY KEY (id);
CREATE INDEX ON plans_hot (owner, created_at DESC, id DESC);
CREATE INDEX ON plans_hot (created_at);
CREATE TABLE hot_queue (plan_id uuid PRIMARY KEY, owner text NOT NULL, status text NOT NULL,
                        due_at timestamptz NOT NULL, worker text);
CREATE INDEX ON hot_queue (owner, due_at, plan_id) WHERE status = 'queued';
CREATE INDEX ON hot_queue (due_at, plan_id) WHERE status = 'queued';
CREATE INDEX ON hot_queue (owner) WHERE status = 'running';
CREATE TABLE batches (n int PRIMARY KEY, ids uuid[] NOT NULL, serials bigint[] NOT NULL);
CREATE TABLE costs (design text, rep int, seconds float8);

CREATE PROCEDURE measure(jobs int, batch int, rep int) LANGUAGE plpgsql AS $$
DECLARE
    b record;
    t timestamptz;
    spent float8[] := '{0,0,0,0}';
BEGIN
    TRUNCATE plans, plan_events, plans_hot, hot_queue, graphile_like, batches RESTART IDENTITY CASCADE;
    INSERT INTO plans (id, owner, request)
    SELECT gen_random_uuid(), 'owner-' || (g % 32), '{}' FROM generate_series(1, jobs) g;
    INSERT INTO plans_hot (id, owner, request) SELECT id, owner, request FROM plans;
    INSERT INTO hot_queue (plan_id, owner, status, due_at) SELECT id, owner, 'queued', due_at FROM plans;
    INSERT INTO graphile_like (task) SELECT 'noop' FROM generate_series(1, jobs);
    INSERT INTO batches
    SELECT (k - 1) / batch, array_agg(id ORDER BY k), array_agg(k::bigint ORDER BY k)
    FROM (SELECT id, row_number() OVER (ORDER BY ctid) AS k FROM plans) p GROUP BY 1;
    COMMIT;
    ANALYZE;
    CHECKPOINT;
    FOR b IN SELECT * FROM batches ORDER BY n LOOP
        t := clock_timestamp();
        UPDATE plans p SET status = 'running', runs = p.runs + 1, attempts = p.attempts + 1, worker = 'w',
            next_attempt_at = NULL, delay_reason = NULL, current_node = NULL,
            started_at = coalesce(p.started_at, now()), updated_at = now()
        WHERE p.id = ANY(b.ids) AND p.status = 'queued';
        COMMIT;
        UPDATE plans p SET status = 'succeeded', result = '{}', warnings = '[]', worker = NULL,
            finished_at = now(), updated_at = now()
        WHERE p.id = ANY(b.ids) AND p.status = 'running';
        COMMIT;
        spent[1] := spent[1] + extract(epoch FROM clock_timestamp() - t);

        -- The same writes on the in-place design, spelled out rather than built with EXECUTE,
        -- whose planning at every batch would be measured too.
        t := clock_timestamp();
        UPDATE hot_queue q SET status = 'running', worker = 'w' WHERE q.plan_id = ANY(b.ids) AND q.status = 'queued';
        UPDATE plans_hot p SET status = 'running', runs = p.runs + 1, attempts = p.attempts + 1, worker = 'w',
            next_attempt_at = NULL, delay_reason = NULL, current_node = NULL,
            started_at = coalesce(p.started_at, now()), updated_at = now()
        WHERE p.id = ANY(b.ids) AND p.status = 'queued';
        COMMIT;
        DELETE FROM hot_queue q WHERE q.plan_id = ANY(b.ids);
        UPDATE plans_hot p SET status = 'succeeded', result = '{}', warnings = '[]', worker = NULL,
            finished_at = now(), updated_at = now()
        WHERE p.id = ANY(b.ids) AND p.status = 'running';
        COMMIT;
        spent[2] := spent[2] + extract(epoch FROM clock_timestamp() - t);

        t := clock_timestamp();
        INSERT INTO plan_events (plan_id, kind, attempt, detail)
        SELECT i, 'started', 1, jsonb_build_object('worker', 'w', 'run', 1) FROM unnest(b.ids) i;
        COMMIT;
        INSERT INTO plan_events (plan_id, kind, detail) SELECT i, 'succeeded', '{"run": 1}' FROM unnest(b.ids) i;
        COMMIT;
        spent[3] := spent[3] + extract(epoch FROM clock_timestamp() - t);

        t := clock_timestamp();
        UPDATE graphile_like SET locked_at = now(), locked_by = 'w', attempts = attempts + 1 WHERE id = ANY(b.serials);
        COMMIT;
        DELETE FROM graphile_like WHERE id = ANY(b.serials);
        COMMIT;
        spent[4] := spent[4] + extract(epoch FROM clock_timestamp() - t);
    END LOOP;
    INSERT INTO costs VALUES ('plans', rep, spent[1]), ('plans_hot', rep, spent[2]),
                             ('events', rep, spent[3]), ('graphile_like', rep, spent[4]);
    COMMIT;
END
$$;
SELECT format('CALL measure(%s, %s, %s)', :jobs, :batch, r) FROM generate_series(1, :reps) r \gexec
-- Heap-only updates of the two plan tables, counted over every rep (this session's counts
-- reach pg_stat_user_tables once it has been idle after the flush is asked for).
\o /dev/null
SELECT pg_stat_force_next_flush();
\o
SELECT format('row_costs design=%s us_per_job=%s reps=%s hot_updates=%s', c.design,
              string_agg(round((c.seconds * 1e6 / :jobs)::numeric, 1)::text, '/' ORDER BY c.rep), count(*),
              coalesce(min(s.n_tup_hot_upd || '/' || s.n_tup_upd), 'n/a'))
FROM costs c
LEFT JOIN pg_stat_user_tables s ON s.relname = c.design AND s.relname IN ('plans', 'plans_hot')
GROUP BY c.design
ORDER BY array_position(ARRAY['plans', 'plans_hot', 'events', 'graphile_like'], c.design);
SQL
