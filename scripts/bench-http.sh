#!/usr/bin/env bash
# Submissions and plan reads against a real `planner api` process, loaded by wrk (Debian's
# package) from outside the process, as the issue's baseline was measured:
#   submit: POST /v1/plans, 16 connections;  poll: GET /v1/plans/{id} of queued plans, 64.
# Prints `bench=submit-wrk …` and `bench=poll-wrk …` lines (scripts/bench-ratios.py reads them).
#
#   scripts/bench-http.sh [SECONDS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${1:-10}
PORT=${PORT:-18089}
DB=planner_bench_wrk
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }
[ -x "$ROOT/target/release/planner" ] || cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
work=$(mktemp -d)
api_pid=
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  dropdb --force --if-exists "$DB" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
dropdb --force --if-exists "$DB" 2>/dev/null || true
createdb "$DB"
export DATABASE_URL=postgres://$PGUSER@$PGHOST:$PGPORT/$DB LOG_FORMAT=json RUST_LOG=warn
cd "$ROOT"
target/release/planner migrate >/dev/null
API_ADDR=127.0.0.1:$PORT target/release/planner api >"$work/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

start=$(date -d '+10 days' +%F)
cat >"$work/submit.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"destination": "杭州", "start_date": "$start", "days": 3, "travelers": 2}'
LUA
cat >"$work/poll.lua" <<'LUA'
local ids = {}
function init(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
end
function request()
  return wrk.format("GET", "/v1/plans/" .. ids[math.random(#ids)])
end
LUA
ms() { # wrk's 850.00us / 1.20ms / 1.01s, in milliseconds
  awk -v t="$1" 'BEGIN { v = t + 0; if (t ~ /us$/) v /= 1000; else if (t ~ /[0-9]s$/ && t !~ /ms$/) v *= 1000; printf "%.2f", v }'
}
report() { # name clients wrk-output
  local rps p50 p99 non2xx
  rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' <<<"$3")
  p50=$(ms "$(awk '$1 == "50%" {print $2}' <<<"$3")")
  p99=$(ms "$(awk '$1 == "99%" {print $2}' <<<"$3")")
  non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\)/\1/p' <<<"$3")
  echo "bench=$1 clients=$2 seconds=$SECONDS_EACH requests_per_s=$rps p50_ms=$p50 p99_ms=$p99 non_2xx=${non2xx:-0}"
}
out=$(wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s "$work/submit.lua" "http://127.0.0.1:$PORT/v1/plans")
report submit-wrk 16 "$out"
psql -XAtc "SELECT id FROM plans" "$DB" >"$work/ids"
out=$(wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency -s "$work/poll.lua" "http://127.0.0.1:$PORT" -- "$work/ids")
report poll-wrk 64 "$out"
