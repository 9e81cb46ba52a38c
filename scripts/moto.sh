#!/usr/bin/env bash
# Installs moto (an S3-compatible server) in a venv outside the repo for tests/results_store.rs,
# which starts `moto_server` on a loopback port. Does nothing when it is already there.
set -euo pipefail

VENV=${MOTO_VENV:-/tmp/moto-venv}

if [ ! -x "$VENV/bin/moto_server" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'moto[server]>=5,<6'
fi
