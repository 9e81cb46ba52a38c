#!/usr/bin/env bash
# Runs schemathesis (every check) against a live `planner dev` on a scratch database:
# installs schemathesis in a venv outside the repo if missing, builds the binary, creates
# planner_schemathesis_<pid> on the DATABASE_URL server, serves on a free port, waits for
# /ready, tests /openapi.json, then stops the server and drops the database. Exits non-zero
# on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
VENV=${SCHEMATHESIS_VENV:-/tmp/schemathesis-venv}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}

if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'schemathesis>=4,<5'
fi

cargo build --quiet
planner="${CARGO_TARGET_DIR:-target}/debug/planner"

db="planner_schemathesis_$$"
base="${SERVER_URL%/*}"
psql "$SERVER_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)

server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  psql "$SERVER_URL" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -f "$log"
}
trap cleanup EXIT

DATABASE_URL="$base/$db" API_ADDR="127.0.0.1:$port" RUST_LOG=warn "$planner" dev >"$log" 2>&1 &
server=$!

for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  if ! kill -0 "$server" 2>/dev/null; then
    cat "$log"
    echo "planner dev exited before it was ready" >&2
    exit 1
  fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$port/ready" >/dev/null

# The event stream of an unfinished plan stays open until the plan finishes: a request reads
# at most a few events, and a stream still open after the timeout counts as an error.
started=$(date +%s)
status=0
"$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run \
  "http://127.0.0.1:$port/openapi.json" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --request-timeout 10 \
  --workers 2 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --no-color || status=$?
echo "schemathesis: exit $status in $(( $(date +%s) - started )) s"
if ! kill -0 "$server" 2>/dev/null; then
  cat "$log"
  echo "planner dev died during the run" >&2
  status=1
fi
exit "$status"
