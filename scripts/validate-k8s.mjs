// Validates rendered Kubernetes manifests (`kubectl kustomize deploy/k8s/overlays/X`) without a
// cluster: every object against its schema (kubernetes-models for the built-in kinds, the KEDA
// and Prometheus Operator models for theirs; an unknown kind fails), then the rules this
// deployment relies on, which no schema states.
//
// Usage: node scripts/validate-k8s.mjs staging.yaml prod.yaml
// Needs kubernetes-models, @kubernetes-models/keda, @kubernetes-models/prometheus-operator and
// js-yaml on NODE_PATH (scripts/validate-k8s.sh installs them outside the repo).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const yaml = require("js-yaml");

const problems = [];
const problem = (file, what) => problems.push(`${file}: ${what}`);

// apiVersion → the package path that models it.
function modelModule(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "keda.sh") return `@kubernetes-models/keda/${group}/${version}`;
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}`;
  return group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
}

function validateSchema(file, object) {
  const where = `${object.kind}/${object.metadata?.name}`;
  let Model;
  try {
    Model = require(modelModule(object.apiVersion))[object.kind];
  } catch {
    Model = undefined;
  }
  if (!Model) {
    problem(file, `${where}: no schema for ${object.apiVersion} ${object.kind}`);
    return;
  }
  try {
    new Model(object).validate();
  } catch (e) {
    problem(file, `${where}: ${e.message}`);
  }
}

const byKind = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);

function validateRules(file, objects) {
  const config = byKind(objects, "ConfigMap", "planner-config")?.data ?? {};
  const deployments = objects.filter((o) => o.kind === "Deployment");
  for (const d of deployments) {
    const pod = d.spec.template.spec;
    const name = d.metadata.name;
    if (pod.securityContext?.runAsNonRoot !== true) problem(file, `${name}: pods must run as non-root`);
    for (const c of pod.containers) {
      if (c.securityContext?.readOnlyRootFilesystem !== true) problem(file, `${name}/${c.name}: root filesystem must be read-only`);
      if (c.securityContext?.allowPrivilegeEscalation !== false) problem(file, `${name}/${c.name}: privilege escalation must be off`);
      if (!c.resources?.requests?.cpu || !c.resources?.limits?.memory) problem(file, `${name}/${c.name}: needs a CPU request and a memory limit`);
    }
  }
  const api = byKind(objects, "Deployment", "api");
  if (!api) problem(file, "no api Deployment");
  else {
    if ((api.spec.replicas ?? 1) < 2) problem(file, "api: at least 2 replicas");
    const c = api.spec.template.spec.containers[0];
    if (c.readinessProbe?.httpGet?.path !== "/ready") problem(file, "api: readiness must be /ready");
    if (c.livenessProbe?.httpGet?.path !== "/health") problem(file, "api: liveness must be /health");
  }
  if (!objects.some((o) => o.kind === "PodDisruptionBudget" && o.spec.selector.matchLabels?.["app.kubernetes.io/name"] === "api")) {
    problem(file, "api: no PodDisruptionBudget");
  }
  const hpa = byKind(objects, "HorizontalPodAutoscaler", "api");
  if (!hpa || hpa.spec.minReplicas < 2) problem(file, "api: an HPA with at least 2 replicas");
  const worker = byKind(objects, "Deployment", "worker");
  const grace = Number(config.SHUTDOWN_GRACE_SECS ?? 30);
  if (!worker) problem(file, "no worker Deployment");
  else if (!(worker.spec.template.spec.terminationGracePeriodSeconds > grace)) {
    problem(file, `worker: terminationGracePeriodSeconds must exceed SHUTDOWN_GRACE_SECS (${grace})`);
  }
  const scaled = byKind(objects, "ScaledObject", "worker");
  if (!scaled) problem(file, "no ScaledObject for the workers");
  else {
    const trigger = scaled.spec.triggers.find((t) => t.type === "postgresql");
    if (!trigger) problem(file, "worker ScaledObject: no postgresql trigger");
    else if (trigger.metadata.targetQueryValue !== String(config.WORKER_CONCURRENCY ?? 16)) {
      problem(file, `worker ScaledObject: targetQueryValue ${trigger.metadata.targetQueryValue} is not WORKER_CONCURRENCY ${config.WORKER_CONCURRENCY}`);
    }
    const timeout = Number(config.PLAN_TIMEOUT_SECS ?? 600);
    if (!(scaled.spec.cooldownPeriod > timeout)) problem(file, `worker ScaledObject: cooldownPeriod must exceed a plan's timeout (${timeout} s)`);
    const auth = trigger?.authenticationRef?.name;
    if (auth && !byKind(objects, "TriggerAuthentication", auth)) problem(file, `TriggerAuthentication ${auth} is missing`);
  }
  // Every env/secret reference resolves within the rendered set.
  for (const d of deployments) {
    for (const c of d.spec.template.spec.containers) {
      for (const from of c.envFrom ?? []) {
        const ref = from.configMapRef?.name ?? from.secretRef?.name;
        const kind = from.configMapRef ? "ConfigMap" : "Secret";
        if (!byKind(objects, kind, ref)) problem(file, `${d.metadata.name}: ${kind} ${ref} is not in the manifests`);
      }
    }
  }
  for (const s of objects.filter((o) => o.kind === "Service")) {
    const selected = deployments.filter((d) =>
      Object.entries(s.spec.selector ?? {}).every(([k, v]) => d.spec.template.metadata.labels?.[k] === v),
    );
    if (selected.length === 0) problem(file, `Service ${s.metadata.name} selects no Deployment`);
  }
  const namespaces = new Set(objects.filter((o) => o.kind !== "Namespace").map((o) => o.metadata.namespace));
  if (namespaces.size !== 1 || namespaces.has(undefined)) problem(file, `objects must share one namespace, found ${[...namespaces]}`);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/validate-k8s.mjs rendered.yaml…");
  process.exit(2);
}
for (const file of files) {
  const objects = yaml.loadAll(readFileSync(file, "utf8")).filter(Boolean);
  for (const object of objects) validateSchema(file, object);
  validateRules(file, objects);
  const kinds = objects.map((o) => o.kind).sort();
  console.log(`${file}: ${objects.length} objects (${[...new Set(kinds)].join(", ")})`);
}
if (problems.length > 0) {
  for (const p of problems) console.error(`  ✗ ${p}`);
  process.exit(1);
}
console.log("every object valid against its schema; deployment rules hold");
