#!/usr/bin/env bash
# How fast PostgreSQL alone can run the queue core's statements, with no worker process: two
# pgbench clients, each claiming a batch with the product's own `claim_plans` and committing,
# then writing the batch's success as the runs' write does (the plan's row and a `succeeded`
# event) and committing. Beside it, the same rows with the plainest claim (oldest first, no
# owners or caps), and a graphile-worker-like job table (one lock update, then a delete), under
# the same clients and batch sizes. Prints jobs/s per design and batch size.
#
#   scripts/queue-ceiling.sh          # JOBS=300000 BATCHES="84 134 250" SECONDS_EACH=3 REPS=2
#
# What-ifs for writing less per job, each in a database of its own changed after the migrations
# (none of them is the product): DESIGNS="plans plans_no_started plans_no_open_listing
# plans_no_finished_index plans_lean graphile_like". `plans_no_started`: the claim writes no
# `started` event. `plans_no_open_listing`: the owner's listing index holds finished plans
# only, so a claim adds no entry to it. `plans_no_finished_index`: no index of finished plans
# (retention would find them by the time-ordered ids), so a success adds no entry to it.
# `plans_lean`: all three.
#
# `planner bench --only queue` at C=50 claims ~134 plans and writes ~84 successes per
# statement; graphile-worker with a local queue of 5×C takes up to 250 jobs per fetch. What the
# designs reach here, against what the worker reaches, says where a gap lies: in the rows each
# job writes, or in how the worker feeds PostgreSQL. Needs a superuser (a CHECKPOINT before
# each run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-300000}
BATCHES=${BATCHES:-84 134 250}
SECONDS_EACH=${SECONDS_EACH:-3}
REPS=${REPS:-2}
OWNERS=${OWNERS:-128}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DESIGNS=${DESIGNS:-plans plans_plain_claim graphile_like}
DB_PREFIX=queue_ceiling_$$
# The binary's migrations make the schema: build it from this checkout, as bench-peers.sh does.
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
PLANNER=$ROOT/target/release/planner
WORK=$(mktemp -d)
trap 'for d in $DESIGNS; do dropdb --force "${DB_PREFIX}_$d" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# The design's database: the migrations, the reference table, and the design's what-if.
prepare() {
  local design=$1 db=${DB_PREFIX}_$1
  createdb "$db"
  DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db" "$PLANNER" migrate >/dev/null
  psql -XqAt -v ON_ERROR_STOP=1 -f "$ROOT/scripts/graphile_like.sql" "$db"
  case $design in
    plans_no_started | plans_lean)
      # claim_plans as the migrations left it, less the CTE that logs `started` (and the
      # first `node_started`, which the bench's claims, with no entry node, never write).
      psql -XqAt -c "SELECT pg_get_functiondef('claim_plans'::regproc)" "$db" |
        perl -0pe 's/\),\n\s*logged AS \(.*?\n    \)\n(\s*SELECT s\.id)/)\n$1/s or die "no logged CTE\n"' >"$WORK/claim.sql"
      psql -XqAt -v ON_ERROR_STOP=1 -f "$WORK/claim.sql" "$db" >/dev/null
      ;;
  esac
  case $design in
    plans_no_open_listing | plans_lean)
      psql -XqAt -v ON_ERROR_STOP=1 "$db" >/dev/null <<'SQL'
DROP INDEX plans_owner_created;
CREATE INDEX plans_owner_created ON plans (owner, created_at DESC, id DESC) WHERE finished_at IS NOT NULL;
SQL
      ;;
  esac
  case $design in
    plans_no_finished_index | plans_lean) psql -XqAt -v ON_ERROR_STOP=1 -c "DROP INDEX plans_finished" "$db" >/dev/null ;;
  esac
}
for design in $DESIGNS; do prepare "$design"; done

# Plans with time-ordered ids, dealt to the owners in turn, each with its `queued` event, as
# `planner bench` enqueues them.
fill() {
  psql -XqAt -v ON_ERROR_STOP=1 -v jobs="$JOBS" -v owners="$OWNERS" "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
TRUNCATE plans, plan_events, graphile_like RESTART IDENTITY CASCADE;
INSERT INTO plans (id, owner, request)
SELECT (lpad(to_hex(g), 12, '0') || '70008000' || lpad(to_hex(g), 12, '0'))::uuid,
       'owner-' || lpad((g % :owners)::text, 4, '0'), '{}'::jsonb
FROM generate_series(1, :jobs) g;
INSERT INTO plan_events (plan_id, kind) SELECT id, 'queued' FROM plans;
INSERT INTO graphile_like (task) SELECT 'noop' FROM generate_series(1, :jobs);
VACUUM ANALYZE plans, plan_events, graphile_like;
CHECKPOINT;
SQL
}

cat > "$WORK/plans.sql" <<'SQL'
\set n random(0, :owners - 1)
BEGIN;
SELECT coalesce(array_agg(id), '{}')::text AS ids
FROM claim_plans('ceiling', :batch, 1000000, NULL, 'owner-' || lpad(:n::text, 4, '0')) \gset
COMMIT;
SQL
# The same rows with the plainest claim: oldest due first, no owners, no caps.
cat > "$WORK/plans_plain_claim.sql" <<'SQL'
BEGIN;
WITH claimed AS (
    UPDATE plans p SET status = 'running', runs = p.runs + 1, attempts = p.attempts + 1, worker = 'ceiling',
        next_attempt_at = NULL, delay_reason = NULL, current_node = NULL,
        started_at = coalesce(p.started_at, now()), updated_at = now()
    WHERE p.id IN (SELECT id FROM plans WHERE status = 'queued' AND due_at <= now()
                   ORDER BY due_at, id LIMIT :batch FOR UPDATE SKIP LOCKED)
    RETURNING p.id, p.attempts, p.runs),
logged AS (
    INSERT INTO plan_events (plan_id, kind, attempt, detail)
    SELECT id, 'started', attempts, jsonb_build_object('worker', 'ceiling', 'run', runs) FROM claimed)
SELECT coalesce(array_agg(id), '{}')::text AS ids FROM claimed \gset
COMMIT;
SQL
# Both plan designs end with the success write.
cat > "$WORK/success.sql" <<'SQL'
WITH done AS (
    UPDATE plans p SET status = 'succeeded', result = '{}', result_markdown = '', warnings = '[]', worker = NULL,
        finished_at = now(), updated_at = now()
    WHERE p.id = ANY(:'ids'::uuid[]) AND p.status = 'running'
    RETURNING p.id, p.attempts, p.runs)
INSERT INTO plan_events (plan_id, kind, attempt, detail) SELECT id, 'succeeded', attempts, jsonb_build_object('run', runs) FROM done;
SQL
cat "$WORK/success.sql" >> "$WORK/plans.sql"
cat "$WORK/success.sql" >> "$WORK/plans_plain_claim.sql"
rm "$WORK/success.sql"
cat > "$WORK/graphile_like.sql" <<'SQL'
BEGIN;
WITH locked AS (
    UPDATE graphile_like j SET locked_at = now(), locked_by = 'ceiling', attempts = j.attempts + 1
    WHERE j.id IN (SELECT id FROM graphile_like WHERE locked_at IS NULL AND run_at <= now()
                   ORDER BY priority, run_at LIMIT :batch FOR UPDATE SKIP LOCKED)
    RETURNING j.id)
SELECT coalesce(array_agg(id), '{}')::text AS ids FROM locked \gset
COMMIT;
DELETE FROM graphile_like WHERE id = ANY(:'ids'::bigint[]);
SQL
# pgbench has no quoted variables; spell them as literals.
sed -i "s/:'ids'/':ids'/" "$WORK"/*.sql

echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ) nproc: $(nproc) commit: $(git -C "$ROOT" rev-parse --short HEAD) jobs: $JOBS owners: $OWNERS clients: 2"
for rep in $(seq "$REPS"); do
  for batch in $BATCHES; do
    for design in $DESIGNS; do
      DB=${DB_PREFIX}_$design
      case $design in
        plans_plain_claim | graphile_like) script=$design ;;
        plans*) script=plans ;;
      esac
      fill
      # Jobs done, counted in the database: a claim may come back short.
      if ! pgbench -n -c 2 -j 2 -T "$SECONDS_EACH" -D batch="$batch" -D owners="$OWNERS" -f "$WORK/$script.sql" "$DB" \
        >"$WORK/pgbench.out" 2>&1; then
        echo "bench=queue_ceiling design=$design batch=$batch FAILED: $(grep -m1 -i error "$WORK/pgbench.out")"
        continue
      fi
      case $design in
        plans*) sql="SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'queued') FROM plans" ;;
        graphile_like) sql="SELECT $JOBS - count(*), count(*) FILTER (WHERE locked_at IS NULL) FROM graphile_like" ;;
      esac
      read -r done left < <(psql -XAt -F ' ' -c "$sql" "$DB")
      if [ "$left" -lt $((JOBS / 10)) ]; then
        echo "bench=queue_ceiling design=$design batch=$batch FAILED: $left jobs left at the end (raise JOBS)"
        continue
      fi
      awk -v d="$design" -v b="$batch" -v n="$done" -v t="$SECONDS_EACH" -v r="$rep" \
        'BEGIN {printf "bench=queue_ceiling rep=%s design=%s batch=%s jobs_per_s=%.0f\n", r, d, b, n / t}'
    done
  done
done
