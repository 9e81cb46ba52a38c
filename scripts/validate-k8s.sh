#!/usr/bin/env bash
# Builds both Kubernetes overlays with `kubectl kustomize` and validates every object against
# the Kubernetes, KEDA and Prometheus Operator schemas plus the deployment's own rules
# (scripts/validate-k8s.mjs). The npm packages are installed outside the repo, at pinned
# versions that run on Node 20. No cluster needed.
set -euo pipefail
cd "$(dirname "$0")/.."

MODULES=${K8S_VALIDATE_DIR:-/tmp/k8s-validate}
PACKAGES=(kubernetes-models@4.5.1 @kubernetes-models/keda@0.4.2 @kubernetes-models/prometheus-operator@4.4.4 js-yaml@4.1.0)

if ! kubectl kustomize --help >/dev/null 2>&1; then
  echo "validate-k8s: needs kubectl with kustomize v4 or later (Debian's kubernetes-client 1.20 is too old)" >&2
  exit 1
fi
if [ ! -f "$MODULES/.installed-$(echo "${PACKAGES[*]}" | md5sum | cut -c1-8)" ]; then
  mkdir -p "$MODULES"
  if [ ! -f "$MODULES/package.json" ]; then (cd "$MODULES" && npm init -y >/dev/null); fi
  (cd "$MODULES" && npm install --silent --no-audit --no-fund "${PACKAGES[@]}")
  touch "$MODULES/.installed-$(echo "${PACKAGES[*]}" | md5sum | cut -c1-8)"
fi

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for overlay in deploy/k8s/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" > "$rendered/$name.yaml"
done
NODE_PATH="$MODULES/node_modules" node scripts/validate-k8s.mjs "$rendered"/*.yaml
