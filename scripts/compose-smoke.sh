#!/usr/bin/env bash
# Runs the compose stack for real and checks what operators rely on: the runtime image (built
# around the host's binary, `--target prebuilt`), PostgreSQL, the api, 3 workers, the MCP weather
# server and Prometheus come up healthy; plans submitted through the api with a key all succeed
# although one worker is SIGKILLed mid-run; Prometheus scrapes the api and every worker replica;
# results are written by the non-root user. Then the stack is torn down.
#
# No Docker engine and no registry here (../shared/containers.md): podman from Debian, a
# debootstrapped Debian base, stand-ins for postgres:15 and prom/prometheus built from Debian's
# packages (scripts/compose/), docker-compose 1.29 on podman's Docker-compatible socket, and a
# loop that runs the containers' health checks (podman runs them through systemd, absent here).
# Grafana is not packaged in Debian: its service is validated by `docker-compose config` only.
#
# Usage: scripts/compose-smoke.sh [path/to/planner]   (default: target/debug/planner)
set -euo pipefail
cd "$(dirname "$0")/.."

BINARY=${1:-${CARGO_TARGET_DIR:-target}/debug/planner}
PROJECT=planner-smoke
PLANS=${SMOKE_PLANS:-24}
API_PORT=${SMOKE_API_PORT:-18080}
PROMETHEUS_PORT=${SMOKE_PROMETHEUS_PORT:-19090}
WEATHER_MCP_PORT=${SMOKE_WEATHER_MCP_PORT:-18090}
SOCKET=/run/podman/podman.sock

log() { printf '[compose-smoke %s] %s\n' "$(date +%T)" "$*"; }
fail() { log "FAILED: $*"; exit 1; }

ensure_engine() {
  if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v docker-compose >/dev/null; then
    log "installing podman, debootstrap and docker-compose"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah debootstrap uidmap slirp4netns \
      netavark aardvark-dns containernetworking-plugins iptables docker-compose >/dev/null
  fi
  # The VM cannot raise rlimits: without lower defaults every `podman run` fails. Its cgroups
  # are hybrid (v1 with a v2 mount), which crun refuses and runc accepts.
  if ! grep -q 'runtime = "runc"' /etc/containers/containers.conf 2>/dev/null; then
    mkdir -p /etc/containers
    cat > /etc/containers/containers.conf <<'CONF'
# Written by travel-planner's scripts/compose-smoke.sh.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
    # A podman service started before this configuration would keep the old runtime.
    pkill -f "podman system service" 2>/dev/null || true
    sleep 1
  fi
  if ! podman image exists localhost/debian:bookworm-slim; then
    log "making the Debian base image with debootstrap"
    local rootfs
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
    tar --numeric-owner -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - localhost/debian:bookworm-slim >/dev/null
    rm -rf "$rootfs"
  fi
  podman tag localhost/debian:bookworm-slim docker.io/library/debian:bookworm-slim
  # A service left running from a checkout since deleted still answers the ping, but every
  # container it starts fails ("write child: broken pipe"): its working folder is gone.
  local service
  for service in $(pgrep -f "podman system service" || true); do
    if readlink "/proc/$service/cwd" | grep -q '(deleted)'; then
      kill "$service" 2>/dev/null || true
      sleep 1
    fi
  done
  if ! curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; then
    mkdir -p "$(dirname "$SOCKET")"
    (cd / && exec podman system service --time=0 "unix://$SOCKET" >/dev/null 2>&1) &
    for _ in $(seq 1 50); do
      curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1 && break
      sleep 0.2
    done
  fi
}

build_images() {
  log "building the stand-ins and the runtime image around $BINARY"
  podman build --pull=never --format docker -q -t docker.io/library/postgres:15 scripts/compose/postgres >/dev/null
  podman build --pull=never --format docker -q -t docker.io/prom/prometheus:v2.53.0 scripts/compose/prometheus >/dev/null
  local context
  context=$(mktemp -d)
  cp "$BINARY" "$context/planner"
  cp -r config "$context/config"
  podman build --pull=never --format docker -q --target prebuilt -f Dockerfile -t localhost/travel-planner:latest "$context" >/dev/null
  podman tag localhost/travel-planner:latest docker.io/library/travel-planner:latest
  rm -rf "$context"
}

compose() {
  DOCKER_HOST="unix://$SOCKET" API_PORT=$API_PORT PROMETHEUS_PORT=$PROMETHEUS_PORT \
    WEATHER_MCP_PORT=$WEATHER_MCP_PORT POSTGRES_PASSWORD=smoke-test-password \
    docker-compose -p "$PROJECT" -f docker-compose.yml -f scripts/compose/smoke.override.yml "$@"
}

# podman leaves health at `starting` without systemd: run every container's check ourselves.
run_health_checks() {
  while true; do
    for c in $(podman ps -q --filter "label=com.docker.compose.project=$PROJECT"); do
      podman healthcheck run "$c" >/dev/null 2>&1 || true
    done
    sleep 2
  done
}

health_loop=""
teardown() {
  status=$?
  if [ "$status" -ne 0 ]; then
    log "logs of the stack (last lines per service):"
    compose logs --tail=30 2>&1 | tail -n 200 || true
  fi
  [ -n "$health_loop" ] && kill "$health_loop" 2>/dev/null || true
  compose down -v -t 5 >/dev/null 2>&1 || true
  exit "$status"
}

api() { curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "$@"; }

wait_until() {
  local what=$1 limit=$2
  shift 2
  local started=$SECONDS
  until "$@"; do
    [ $((SECONDS - started)) -lt "$limit" ] || fail "$what (waited ${limit}s)"
    sleep 1
  done
}

api_ready() { curl -sf --max-time 3 "http://127.0.0.1:$API_PORT/ready" >/dev/null; }

[ -x "$BINARY" ] || fail "no binary at $BINARY (cargo build first)"
ensure_engine
build_images
compose down -v -t 5 >/dev/null 2>&1 || true
trap teardown EXIT

SERVICES="postgres api worker weather-mcp prometheus"
log "starting $SERVICES"
run_health_checks &
health_loop=$!
# shellcheck disable=SC2086
compose up -d --no-build --scale worker=3 $SERVICES
wait_until "the api answers /ready" 120 api_ready

workers=$(podman ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=worker" | wc -l)
[ "$workers" -eq 3 ] || fail "expected 3 worker containers, found $workers"

# APP_ENV=prod in compose: keys are required. A key made inside the api container.
TOKEN=$(compose exec -T api planner keys create --name smoke | sed -n 's/.*\(tp_[0-9a-f]\{64\}\).*/\1/p')
[ -n "$TOKEN" ] || fail "planner keys create printed no token"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/v1/plans")" = 401 ] ||
  fail "the api answered without a key"

log "submitting $PLANS plans"
cities=("杭州" "成都" "北京" "上海" "西安" "Tokyo")
ids=()
for i in $(seq 1 "$PLANS"); do
  city=${cities[$((i % ${#cities[@]}))]}
  body=$(printf '{"query": "%s 3天，两个人，预算4000元，喜欢美食"}' "$city")
  id=$(api -X POST "http://127.0.0.1:$API_PORT/v1/plans" -H 'content-type: application/json' -d "$body" | jq -r .id)
  [[ "$id" =~ ^[0-9a-f-]{36}$ ]] || fail "submission $i got no plan id"
  ids+=("$id")
done

# The victim is a worker with plans in flight, read from its own /metrics.
busy_worker() {
  local c ip in_flight
  for c in $(podman ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=worker"); do
    ip=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c")
    in_flight=$(curl -sf --max-time 2 "http://$ip:9091/metrics" | awk '/^planner_worker_plans_in_flight / {print int($2)}')
    if [ "${in_flight:-0}" -gt 0 ]; then
      VICTIM=$c VICTIM_PLANS=$in_flight
      return 0
    fi
  done
  return 1
}
wait_until "a worker has plans in flight" 60 busy_worker
log "SIGKILL worker container $VICTIM with $VICTIM_PLANS plans in flight"
podman kill --signal KILL "$VICTIM" >/dev/null

all_done() {
  local open
  open=$(api "http://127.0.0.1:$API_PORT/v1/plans?limit=100" |
    jq '[.plans[] | select(.status == "queued" or .status == "running")] | length')
  [ "$open" = 0 ]
}
wait_until "every plan finished" 240 all_done
for id in "${ids[@]}"; do
  status=$(api "http://127.0.0.1:$API_PORT/v1/plans/$id" | jq -r .status)
  [ "$status" = succeeded ] || fail "plan $id ended $status"
  markdown=$(api -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/v1/plans/$id/itinerary.md")
  [ "$markdown" = 200 ] || fail "plan $id: itinerary.md answered $markdown"
done
rescued=0
for id in "${ids[@]}"; do
  if api --max-time 30 "http://127.0.0.1:$API_PORT/v1/plans/$id/events" | grep -q '^event: rescued'; then
    rescued=$((rescued + 1))
  fi
done
[ "$rescued" -ge 1 ] || fail "no plan was in flight on the killed worker (none rescued)"
log "all $PLANS plans succeeded; $rescued of them were rescued from the killed worker"

# Results written by the non-root user into the shared volume (RESULTS_DIR in the image): the
# exporter copies them shortly after each plan succeeds.
results_written() {
  written=$(podman run --rm --pull=never -v "${PROJECT}_results:/results:ro" --entrypoint sh \
    localhost/travel-planner:latest -c 'ls /results | grep -c "\.json$"' || true)
  [ "${written:-0}" -ge "$PLANS" ]
}
wait_until "every plan's results are in the results volume" 60 results_written
owner=$(podman run --rm --pull=never -v "${PROJECT}_results:/results:ro" --entrypoint sh \
  localhost/travel-planner:latest -c 'stat -c %u /results/$(ls /results | head -n 1)')
[ "$owner" = 10001 ] || fail "results owned by uid $owner, not the image's planner user"
log "$written result files in the volume, owned by uid $owner"

# Prometheus scrapes the api and every worker replica that is up (the killed one restarted).
scraped() {
  local up
  up=$(curl -sf "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" --data-urlencode 'query=up' |
    jq -r '[.data.result[] | select(.value[1] == "1") | .metric.job] | group_by(.) | map("\(.[0])=\(length)") | join(",")')
  expected_workers=$(podman ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=worker" | wc -l)
  [ "$up" = "planner-api=1,planner-worker=$expected_workers" ] && SCRAPED=$up
}
wait_until "Prometheus scrapes the api and every worker" 90 scraped
log "Prometheus targets up: $SCRAPED"
log "passed"
