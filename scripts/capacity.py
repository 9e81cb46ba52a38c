#!/usr/bin/env python3
"""What one PostgreSQL sustains as workers are added: for each worker count, a scratch database
gets PLANS plans submitted through a real `planner api` while no worker runs, then that many
`planner worker` processes start at once and drain the queue. Prints plans/s, timeline events/s
and committed transactions/s over the drain, and the server's busiest backends' share.

Usage: scripts/capacity.py [--planner target/release/planner] [--plans 2000] [--workers 1,2,4]
Needs DATABASE_URL (a server where databases may be created; default the local postgres).
Figures from a shared 2-core machine mean something only as ratios within one run.
"""

import argparse
import concurrent.futures
import json
import os
import socket
import subprocess
import time
import urllib.request

SERVER = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BASE = SERVER.rsplit("/", 1)[0]


def psql(url, sql):
    return subprocess.run(["psql", url, "-Atqc", sql], check=True, capture_output=True, text=True).stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(planner, command, url, **env):
    full = dict(os.environ, DATABASE_URL=url, RUST_LOG="warn", LOG_FORMAT="json", **env)
    return subprocess.Popen([planner, command], env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(base):
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the api never became ready")


def submit(base, i):
    cities = ["杭州", "成都", "北京", "上海", "西安", "Tokyo", "Singapore"]
    body = json.dumps({"query": f"{cities[i % len(cities)]} 3天，两个人，预算5000元，喜欢美食"}).encode()
    request = urllib.request.Request(f"{base}/v1/plans", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 202, r.status


def run(planner, plans, workers, concurrency):
    db = f"planner_capacity_{os.getpid()}_{workers}"
    psql(SERVER, f"CREATE DATABASE {db}")
    url = f"{BASE}/{db}"
    processes = []
    try:
        port = free_port()
        api = spawn(planner, "api", url, API_ADDR=f"127.0.0.1:{port}")
        processes.append(api)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: submit(base, i), range(plans)))
        commits_before = int(psql(url, f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'"))
        events_before = int(psql(url, "SELECT count(*) FROM plan_events"))
        started = time.monotonic()
        for _ in range(workers):
            processes.append(
                spawn(
                    planner,
                    "worker",
                    url,
                    WORKER_ADDR="127.0.0.1:0",
                    WORKER_CONCURRENCY=str(concurrency),
                    DB_POOL_MAX=str(concurrency + 4),
                    OWNER_MAX_RUNNING="1000000",
                )
            )
        while True:
            done = int(psql(url, "SELECT count(*) FROM plans WHERE status IN ('succeeded', 'failed')"))
            if done >= plans:
                break
            if time.monotonic() - started > 600:
                raise SystemExit(f"{workers} workers: only {done} of {plans} plans finished in 10 min")
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        failed = int(psql(url, "SELECT count(*) FROM plans WHERE status = 'failed'"))
        events = int(psql(url, "SELECT count(*) FROM plan_events")) - events_before
        commits = int(psql(url, f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'")) - commits_before
        return {
            "workers": workers,
            "plans_per_s": plans / elapsed,
            "events_per_s": events / elapsed,
            "tx_per_s": commits / elapsed,
            "seconds": elapsed,
            "failed": failed,
        }
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()
        psql(SERVER, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--planner", default="target/release/planner")
    parser.add_argument("--plans", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=16, help="WORKER_CONCURRENCY of each worker")
    args = parser.parse_args()
    rows = [run(args.planner, args.plans, int(w), args.concurrency) for w in args.workers.split(",")]
    print(f"{args.plans} embedded plans per run, WORKER_CONCURRENCY={args.concurrency}, one PostgreSQL")
    print(f"{'workers':>7} {'plans/s':>9} {'events/s':>9} {'tx/s':>8} {'vs 1':>6} {'failed':>6}")
    first = rows[0]["plans_per_s"]
    for r in rows:
        print(
            f"{r['workers']:>7} {r['plans_per_s']:>9.1f} {r['events_per_s']:>9.0f} {r['tx_per_s']:>8.0f} "
            f"{r['plans_per_s'] / first:>5.2f}x {r['failed']:>6}"
        )


if __name__ == "__main__":
    main()
