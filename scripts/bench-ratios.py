#!/usr/bin/env python3
"""Medians of the lines written by scripts/bench-peers.sh (`peer=…` from the peers, `bench=…` from
`planner bench`), and the ratios ours / theirs measured in the same run."""

import statistics
import sys
from collections import defaultdict


def fields(line: str) -> dict:
    return dict(tok.split("=", 1) for tok in line.split() if "=" in tok)


values: dict[tuple, list[float]] = defaultdict(list)
for path in sys.argv[1:] or ["-"]:
    for line in sys.stdin if path == "-" else open(path):
        d = fields(line)
        name = d.get("peer") or (d.get("bench") and "planner-" + d["bench"])
        if not name:
            continue
        if d.get("prefetch", "0") != "0":
            name += "-prefetch"
        if d.get("bench") == "queue" and int(d.get("owner_cap", "8")) >= 1_000_000:
            name += "-nocap"
        elif d.get("bench") == "queue" and d.get("owners", "32") != "32":
            name += "-owners" + d["owners"]
        level = d.get("concurrency") or d.get("parallel") or d.get("clients") or ""
        for key, value in d.items():
            try:
                values[(name, level, key)].append(float(value))
            except ValueError:
                pass


def median(name: str, level: str, key: str):
    got = values.get((name, level, key))
    return (statistics.median(got), len(got)) if got else (None, 0)


def row(label: str, ours: tuple, theirs: tuple) -> None:
    (a, na), (b, nb) = ours, theirs
    ratio = f"{a / b:.2f}×" if a and b else "-"
    fmt = lambda v: "-" if v is None else f"{v:,.0f}"
    print(f"| {label} | {fmt(a)} ({na}) | {fmt(b)} ({nb}) | {ratio} |")


print("| comparison (medians, reps) | ours | theirs | ours / theirs |")
print("|---|---|---|---|")
for level in sorted({k[1] for k in values if k[0] == "planner-queue"}, key=int):
    variants = (("planner-queue", ""), ("planner-queue-prefetch", ", prefetch 5C"),
                ("planner-queue-prefetch-owners128", ", prefetch 5C, 128 owners (their caps hold 1,024)"),
                ("planner-queue-prefetch-nocap", ", prefetch 5C, no owner cap"))
    for ours_name, label in variants:
        ours = median(ours_name, level, "process_jobs_per_s")
        if ours[0] is None:
            continue
        row(f"no-op jobs/s C={level}{label} vs graphile-worker batched", ours,
            median("graphile-worker-batched", level, "process_jobs_per_s"))
        row(f"no-op jobs/s C={level}{label} vs pg-boss batch 50", ours,
            median("pg-boss-b50", level, "process_jobs_per_s"))
lang = [k[1] for k in values if k[0] == "langgraph-async" and k[2] == "node_steps_per_s"]
for level in sorted({k[1] for k in values if k[0] == "planner-whole"}, key=int):
    plans = median("planner-whole", level, "plans_per_s")
    for theirs in lang:
        row(f"whole plans/s C={level} vs LangGraph runs/s ({theirs} parallel)", plans,
            median("langgraph-async", theirs, "runs_per_s"))
        steps = (plans[0] * 9 if plans[0] else None, plans[1])
        row(f"node-steps/s C={level} (9 nodes) vs LangGraph node-steps/s", steps,
            median("langgraph-async", theirs, "node_steps_per_s"))
print()
print("| planner figure | median | reps |")
print("|---|---|---|")
for (name, level, key), got in sorted(values.items()):
    if got and name.startswith("planner-") and key not in {"concurrency", "clients", "jobs", "plans", "owners", "seconds"}:
        print(f"| {name} {level} {key} | {statistics.median(got):,.2f} | {len(got)} |")
for (name, level, key), got in sorted(values.items()):
    if got and name.startswith("pgbench") and key.endswith("tps"):
        print(f"| {name} {key} | {statistics.median(got):,.0f} | {len(got)} |")
