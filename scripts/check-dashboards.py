#!/usr/bin/env python3
"""Checks that every Grafana panel queries a metric the service really exports.

Starts Debian's Prometheus on loopback, runs `planner api` and two `planner worker` processes
against a scratch database, submits plans (some invalid, some awaiting approval, some that
time out and are retried, one impossible), then evaluates each panel's expression through
Prometheus' HTTP API and fails on any empty result. Also runs `promtool check config/rules`.

Usage: scripts/check-dashboards.py [path/to/planner]   (DATABASE_URL names the server)
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time, urllib.error, urllib.parse, urllib.request, uuid, datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "planner")
BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
API, W1, W2, PROM = "127.0.0.1:18180", "127.0.0.1:18191", "127.0.0.1:18192", "127.0.0.1:18190"


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def wait_up(url, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if http("GET", url)[0] == 200:
            return
        time.sleep(0.2)
    sys.exit(f"FAIL: {what} did not come up at {url}")


def main():
    subprocess.run(["promtool", "check", "config", os.path.join(ROOT, "prometheus.yml")], check=True)
    subprocess.run(["promtool", "check", "rules", os.path.join(ROOT, "prometheus", "alerts.yml")], check=True)

    scratch = f"planner_dashcheck_{os.getpid()}"
    db_url = BASE_URL.rsplit("/", 1)[0] + "/" + scratch
    tmp = tempfile.mkdtemp(prefix="planner-dashcheck-")
    procs = []
    env = dict(os.environ, DATABASE_URL=db_url, LOG_FORMAT="json", RUST_LOG="warn", DB_POOL_MAX="6",
               QUEUE_POLL_MS="200", PLAN_RETRY_BASE_MS="300", WORKER_CONCURRENCY="4")

    def spawn(args, **extra):
        log = open(os.path.join(tmp, f"{args[0]}-{len(procs)}.log"), "w")
        p = subprocess.Popen([BINARY, *args], env=dict(env, **extra), stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        spawn(["api"], API_ADDR=API)
        wait_up(f"http://{API}/ready", "api")
        spawn(["worker"], WORKER_ADDR=W1)
        # The second worker is slow and times out on `draft`: timeouts, retries and requeues.
        spawn(["worker"], WORKER_ADDR=W2, NODE_TIMEOUT_SECS="1", PLANNER_FAULT_NODE_DELAY="draft=1500")
        wait_up(f"http://{W1}/health", "worker 1")
        wait_up(f"http://{W2}/health", "worker 2")

        rules = os.path.join(ROOT, "prometheus", "alerts.yml")
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
scrape_configs:
  - job_name: planner-api
    static_configs: [{{targets: ['{API}']}}]
  - job_name: planner-worker
    static_configs: [{{targets: ['{W1}', '{W2}']}}]
""")
        procs.append(subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp}/data", f"--web.listen-address={PROM}"],
            stdout=open(os.path.join(tmp, "prometheus.log"), "w"), stderr=subprocess.STDOUT))
        wait_up(f"http://{PROM}/-/ready", "prometheus")
        time.sleep(3)  # a few scrapes before any traffic, so that rates have a baseline

        start = (datetime.date.today() + datetime.timedelta(days=5)).isoformat()
        ids = []
        for i, city in enumerate(["杭州", "成都", "北京", "上海", "西安", "厦门", "Tokyo", "Bangkok"] * 2):
            status, body = http("POST", f"http://{API}/v1/plans", {"destination": city, "start_date": start, "days": 2 + i % 3})
            assert status == 202, body
            ids.append(json.loads(body)["id"])
            time.sleep(0.3)
        http("POST", f"http://{API}/v1/plans", {"destination": "杭州", "start_date": start, "require_approval": True})
        http("POST", f"http://{API}/v1/plans", {"query": "上海5天，预算100元"})
        for bad in ({"destination": "Atlantis"}, {"destination": "杭州", "days": 0}):
            http("POST", f"http://{API}/v1/plans", bad)
        queued = json.loads(http("POST", f"http://{API}/v1/plans", {"destination": "南京", "start_date": start})[1])["id"]
        http("POST", f"http://{API}/v1/plans/{queued}/cancel")

        deadline = time.time() + 120
        while time.time() < deadline:
            done = [json.loads(http("GET", f"http://{API}/v1/plans/{i}")[1]).get("status") for i in ids]
            if all(s in ("succeeded", "failed") for s in done):
                break
            time.sleep(1)
        else:
            sys.exit(f"FAIL: plans did not finish: {done}")
        time.sleep(16)  # the api refreshes the queue gauges every 15 s; let Prometheus scrape

        dashboard = json.load(open(os.path.join(ROOT, "grafana", "dashboards", "planner-overview.json")))
        empty = []
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                q = urllib.parse.urlencode({"query": target["expr"]})
                status, body = http("GET", f"http://{PROM}/api/v1/query?{q}")
                result = json.loads(body)["data"]["result"] if status == 200 else []
                shown = ", ".join(f"{r['metric']}={r['value'][1]}" for r in result[:3])
                print(f"{'ok   ' if result else 'EMPTY'} {panel['title']}: {len(result)} series {shown}")
                if not result:
                    empty.append(panel["title"])
        if empty:
            sys.exit(f"FAIL: {len(empty)} panel(s) returned no data: {empty}")
        print(f"dashboard check: all {len(dashboard['panels'])} panels return data")
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        subprocess.run(["psql", BASE_URL, "-qc", f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
