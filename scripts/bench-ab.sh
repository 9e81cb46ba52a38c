#!/usr/bin/env bash
# `planner bench` with two builds of the binary, run alternately on this machine so that
# both see the same noise: compare the figures of one run as ratios, never across runs.
#
#   scripts/bench-ab.sh BEFORE_BINARY AFTER_BINARY [ROUNDS] [-- BENCH_ARGS…]
#
# e.g. after `git worktree add /tmp/old REV && cargo build --release --manifest-path /tmp/old/Cargo.toml`:
#   scripts/bench-ab.sh /tmp/old/target/release/planner target/release/planner 4
# Odd rounds run the first binary first, even rounds the second, to cancel order effects.
set -euo pipefail
before=${1:?before binary}
after=${2:?after binary}
rounds=${3:-4}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--plans 300 --jobs 3000 --concurrency 16)
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} LOG_FORMAT=json RUST_LOG=warn
for round in $(seq 1 "$rounds"); do
  order=("$before" "$after")
  (( round % 2 == 0 )) && order=("$after" "$before")
  for bin in "${order[@]}"; do
    label=$([ "$bin" = "$before" ] && echo before || echo after)
    "$bin" bench "${args[@]}" 2>&1 | grep "^bench=" | sed "s/^/round $round $label: /"
  done
done
