"""`make bench`: the real server under load from a separate process over loopback, every figure
measured side by side in one run, printed as a table and written to bench/results.json.

1. GET /healthz throughput: the Flask floor.
2. POST /v1/evaluations (a realistic deal, decision durably logged): throughput, p50, p99;
   run in alternating rounds with 1., and the ratio is the median of the rounds' ratios.
   The same pair on a second server with the evaluation path as it was before issue 16
   (through Flask, each worker writing its own row) in the same rounds; CPU per request on
   each side (server, PostgreSQL, load tool; bench/cpu.py) and the decision-log writer's
   rows per commit.
3. Submit plus approve, each committed with its audit event: throughput, p99.
4. A 200-line quote: server time, beside a 1-line quote.
   Beside it, the same evaluations on a second server that skips the policy-generation check
   (bench/policy_follow.py): what following the fleet's policy set costs.
   And on a server with a token issuer, evaluations by API key and by JWT in alternating
   rounds (bench/jwt_auth.py): what an access token costs.
5. The pure engine in-process, beside cedarpy and casbin (bench/engines.py).
6. Overrides pages and summary at 1,000,000 rows; audit verify per million (bench/overrides.py).
7. The reports at 1,000,000 approval requests and overrides (bench/reports.py), and what
   recording their history costs submit + approve (bench/report_writes.py).
8. Webhooks: the outbox write's cost on submit + approve, and delivery latency at 200 events/s
   (bench/webhooks.py; BENCH_SKIP_WEBHOOKS skips it).
9. Mail: submit + approve with SLA and mail on and off side by side, and commit to the mail
   accepted by aiosmtpd at 50 steps/s (bench/mail.py; BENCH_SKIP_MAIL skips it).
10. SCIM sync of 10,000 users, POST then PATCH of every manager, with evaluations checked
    alongside (bench/scim_sync.py; BENCH_SKIP_SCIM skips it).

wrk is used when installed (Debian package `wrk`), else a Python load generator.
Knobs: BENCH_SECONDS (per load run, default 6), BENCH_ROUNDS (alternating healthz/evaluation
rounds, default 3), BENCH_CONNECTIONS (16), BENCH_SKIP_OVERRIDES, BENCH_SKIP_REPORTS.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.service.keys import issue_key  # noqa: E402
from api.storage.database import init_database, start_embedded  # noqa: E402
from bench import cpu, engines, jwt_auth, policy_follow  # noqa: E402
from bench import mail as mail_bench  # noqa: E402
from bench import webhooks as webhook_bench  # noqa: E402
from bench.common import CHAIN, DEALDESK, free_port  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ORG = [*CHAIN, ("cfo.chen", "cfo", "ceo.morgan")]


def deal(lines: int = 0, deal_id: str = "Q-00042") -> dict[str, Any]:
    body: dict[str, Any] = {
        "deal_id": deal_id,
        "owner_id": "am.jones",
        "currency": "USD",
        "account": {"id": "ACME", "name": "Acme Corp", "segment": "enterprise"},
        "list_amount": "250000.00",
        "discount_pct": "18",
        "rebate_pct": "1.5",
        "payment_terms_days": 60,
        "term_months": 36,
        "special_billing": False,
        "close_date": "2026-12-29",
        "customer_target_date": "2027-02-15",
    }
    if lines:
        body["lines"] = [
            {"sku": f"SKU-{i}", "quantity": 2, "list_price": "1250.00", "discount_pct": "18"}
            for i in range(lines)
        ]
    return {"deal": body, "requested_by": "am.jones"}


def scratch_database(name: str = "dealdesk_bench_http") -> str:
    """A new, empty database `name` with the schema (on DATABASE_URL's server, else the
    embedded one); its URL."""
    server = os.environ.get("DATABASE_URL") or start_embedded(ROOT / ".dealdesk")
    with psycopg.connect(server, autocommit=True) as conn:
        database = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(database))
    params = conninfo_to_dict(server)
    params["dbname"] = name
    url = make_conninfo(**params)
    init_database(url)
    return url


def start_server(
    url: str, port: int, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "DEALDESK_TODAY": "2026-12-29", **(extra or {})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each server its own: counts must not mix
    process = subprocess.Popen(
        [DEALDESK, "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ACCOUNTING[port] = process.pid  # its own session: every process it starts is in it
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def call(port: int, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, json.loads(payload) if payload else None


def seed_org(port: int, key: str) -> None:
    """The bench's org (ORG), through the API of the server on `port`: once per database,
    whatever the number of servers sharing it."""
    for person_id, tier, manager in ORG:
        person = {"name": person_id, "tier": tier, "manager_id": manager}
        call(port, "PUT", f"/v1/people/{person_id}", key, person)


def parse_wrk(text: str) -> dict[str, Any]:
    def ms(label: str) -> float | None:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not match:
            return None
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


ACCOUNTING: dict[int, int] = {}
"""port -> the server's session id, for the CPU accounting of its load runs (bench/cpu.py)."""
POSTMASTER: list[int] = []


def load(port: int, path: str, script: str | None, env: dict[str, str]) -> dict[str, Any]:
    """One load run; with the CPU each side spent per request when the server is known."""
    session = ACCOUNTING.get(port)
    before = cpu.sample(session, POSTMASTER[0]) if session and POSTMASTER else None
    result = _load(port, path, script, env)
    if before is not None and session is not None:
        after = cpu.sample(session, POSTMASTER[0])
        result["cpu"] = cpu.per_request(before, after, result["requests"])
    return result


def _load(port: int, path: str, script: str | None, env: dict[str, str]) -> dict[str, Any]:
    if shutil.which("wrk"):
        command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
        if script:
            command += ["-s", str(ROOT / "bench" / "lua" / script)]
        done = subprocess.run(
            [*command, f"http://127.0.0.1:{port}{path}"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return {**parse_wrk(done.stdout), "tool": "wrk"}
    return python_load(port, path, script, env)


def python_load(port: int, path: str, script: str | None, env: dict[str, str]) -> dict[str, Any]:
    """The fallback: keep-alive connections in threads (it shares the CPU with the server)."""
    latencies: list[float] = []
    failures = [0]
    deadline = time.monotonic() + SECONDS
    lock = threading.Lock()

    def worker(index: int) -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {
            "Authorization": f"Bearer {env.get('BENCH_KEY', '')}",
            "Content-Type": "application/json",
        }
        n = 0
        while time.monotonic() < deadline:
            n += 1
            steps = [("GET", path, None)] if script is None else [("POST", path, env["BENCH_BODY"])]
            if script == "submit_approve.lua":
                body = deal(deal_id=f"P-{env['BENCH_RUN']}-{index}-{n}")
                steps = [("POST", "/v1/approval-requests", json.dumps(body))]
            for method, target, body_text in steps:
                started = time.perf_counter()
                conn.request(method, target, body=body_text, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    failures[0] += response.status >= 300
                if script == "submit_approve.lua" and response.status == 201:
                    rid = json.loads(payload)["id"]
                    started = time.perf_counter()
                    conn.request(
                        "POST",
                        f"/v1/approval-requests/{rid}/approve",
                        body='{"approver_id": "sd.patel"}',
                        headers=headers,
                    )
                    ok = conn.getresponse()
                    ok.read()
                    with lock:
                        latencies.append((time.perf_counter() - started) * 1000)
                        failures[0] += ok.status >= 300

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / SECONDS,
        "requests": len(ordered),
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[int(0.99 * (len(ordered) - 1))],
        "non_2xx": failures[0],
        "tool": "python",
    }


BEFORE = {
    "DEALDESK_FAST_LANE": "0",
    "DEALDESK_DECISION_WRITER": "0",
    "DEALDESK_WORKERS": str(2 * (os.cpu_count() or 1) + 1),
    "DEALDESK_THREADS": "1",
}
"""The evaluation path as it was before issue 16: 2 x cores + 1 sync workers, through Flask,
each worker writing its own row (durably too, as every path now does), for the side-by-side
"before" figures."""


def alternating(port: int, env: dict[str, str], before: int | None = None) -> dict[str, Any]:
    """/healthz and evaluations in turn, ROUNDS times, so that drift on a noisy machine hits
    both alike; each figure is the median of its rounds and the ratio the median of the
    per-round ratios. With `before` (a second server started with BEFORE), the same pair on
    it in the same rounds."""
    rounds: list[tuple[dict[str, Any], ...]] = []
    for _ in range(ROUNDS):
        pair = (
            load(port, "/healthz", None, env),
            load(port, "/v1/evaluations", "evaluate.lua", env),
        )
        if before is not None:
            pair += (
                load(before, "/healthz", None, env),
                load(before, "/v1/evaluations", "evaluate.lua", env),
            )
        rounds.append(pair)

    def median(side: int) -> dict[str, Any]:
        runs = [r[side] for r in rounds]
        merged: dict[str, Any] = {"tool": runs[0]["tool"], "rounds": runs}
        for key in ("rps", "p50_ms", "p99_ms"):
            values = [run[key] for run in runs if run[key] is not None]
            merged[key] = statistics.median(values) if values else None
        merged["non_2xx"] = sum(run["non_2xx"] for run in runs)
        if all("cpu" in run for run in runs):
            merged["cpu"] = {
                part: statistics.median(run["cpu"][part] for run in runs) for part in runs[0]["cpu"]
            }
        return merged

    def ratio(healthz: int, evaluations: int) -> float:
        ratios = [r[evaluations]["rps"] / r[healthz]["rps"] for r in rounds if r[healthz]["rps"]]
        return statistics.median(ratios) if ratios else 0.0

    result = {"healthz": median(0), "evaluations": median(1), "ratio": ratio(0, 1)}
    if before is not None:
        result["before"] = {"healthz": median(2), "evaluations": median(3), "ratio": ratio(2, 3)}
    return result


def writer_groups(port: int, key: str) -> dict[str, float]:
    """The decision-log writer's commits so far, from /metrics: rows per commit and its time."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    found = {}
    for name in (
        "dealdesk_decision_log_group_rows_count",
        "dealdesk_decision_log_group_rows_sum",
        "dealdesk_decision_log_commit_seconds_sum",
    ):
        match = re.search(rf"^{name} ([\d.e+-]+)$", text, re.M)
        found[name] = float(match.group(1)) if match else 0.0
    commits = found["dealdesk_decision_log_group_rows_count"] or 1.0
    return {
        "commits": found["dealdesk_decision_log_group_rows_count"],
        "rows": found["dealdesk_decision_log_group_rows_sum"],
        "rows_per_commit": round(found["dealdesk_decision_log_group_rows_sum"] / commits, 2),
        "commit_ms": round(found["dealdesk_decision_log_commit_seconds_sum"] * 1000 / commits, 3),
    }


def server_time(port: int, key: str, body: dict[str, Any], repeat: int = 60) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        status, _ = call(port, "POST", "/v1/evaluations", key, body)
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200
    return statistics.median(times)


def main() -> int:
    url = scratch_database()
    with psycopg.connect(url) as conn:
        key, _ = issue_key(conn, "bench", ["admin"], "bench")
        POSTMASTER.append(cpu.postmaster_pid(conn))
    port = free_port()
    server = start_server(url, port)
    before_port = free_port()
    before = start_server(url, before_port, BEFORE)
    results: dict[str, Any] = {}
    try:
        seed_org(port, key)
        env = {
            "BENCH_KEY": key,
            "BENCH_BODY": json.dumps(deal()),
            "BENCH_RUN": str(int(time.time())),
        }
        results.update(alternating(port, env, before_port))
        results["writer"] = writer_groups(port, key)
        results["policy_check"] = policy_follow.measure(url, port, env)
        results["jwt_auth"] = jwt_auth.measure(url, key)
        results["submit_approve"] = load(port, "/v1/approval-requests", "submit_approve.lua", env)
        results["quote_1_line_ms"] = server_time(port, key, deal(lines=1))
        results["quote_200_lines_ms"] = server_time(port, key, deal(lines=200))
        with psycopg.connect(url) as conn:
            logged = conn.execute("SELECT count(*) FROM decisions").fetchone()
            approved = conn.execute(
                "SELECT count(*) FROM approval_requests WHERE state = 'approved'"
            ).fetchone()
        results["decisions_logged"] = logged[0] if logged else 0
        results["requests_approved"] = approved[0] if approved else 0
        status, verdict = call(port, "GET", "/v1/audit/verify", key)
        results["chain_ok_after_load"] = status == 200 and verdict["ok"]
    finally:
        for process in (server, before):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    results["engine"] = engines.measure()
    if not os.environ.get("BENCH_SKIP_WEBHOOKS"):
        results["webhooks"] = webhook_bench.measure()
    if not os.environ.get("BENCH_SKIP_MAIL"):
        results["mail"] = mail_bench.measure()
    report(results)
    if "webhooks" in results:
        print("webhooks (bench/webhooks.py):", json.dumps(results["webhooks"]))
    if "mail" in results:
        print("mail (bench/mail.py):", json.dumps(results["mail"]))
    out = ROOT / "bench" / "results.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["http"] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "seconds": SECONDS,
        "connections": CONNECTIONS,
        "results": results,
    }
    out.write_text(json.dumps(existing, indent=2) + "\n")
    if not os.environ.get("BENCH_SKIP_OVERRIDES"):
        from bench import overrides

        overrides.main()
    if not os.environ.get("BENCH_SKIP_REPORTS"):
        from bench import report_writes, reports

        reports.main()
        report_writes.main()
    if not os.environ.get("BENCH_SKIP_SCIM"):
        from bench import scim_sync

        scim_sync.main()
    return 0


def report(r: dict[str, Any]) -> None:
    healthz, evaluations, pairs = r["healthz"], r["evaluations"], r["submit_approve"]
    ratio = r["ratio"]
    engine = r["engine"]

    def fmt(value: float | None, spec: str = ".1f") -> str:
        return "n/a" if value is None else format(value, spec)

    rows = [
        (
            "GET /healthz (Flask floor)",
            f"{healthz['rps']:.0f} req/s",
            f"p99 {fmt(healthz['p99_ms'])} ms",
            "",
        ),
        (
            "POST /v1/evaluations, logged",
            f"{evaluations['rps']:.0f} req/s",
            f"p50 {fmt(evaluations['p50_ms'])} / p99 {fmt(evaluations['p99_ms'])} ms",
            f"{ratio:.2f}x healthz, median of {ROUNDS} alternating rounds "
            "(target 0.50x; p99 target 25 ms)",
        ),
        (
            "  before (Flask, per-worker row)",
            f"{r['before']['evaluations']['rps']:.0f} req/s",
            f"p50 {fmt(r['before']['evaluations']['p50_ms'])} / "
            f"p99 {fmt(r['before']['evaluations']['p99_ms'])} ms",
            f"{r['before']['ratio']:.2f}x its own /healthz "
            f"({r['before']['healthz']['rps']:.0f} req/s), same rounds",
        ),
        (
            "submit + approve, durable",
            f"{pairs['rps']:.0f} req/s",
            f"p99 {fmt(pairs['p99_ms'])} ms",
            "target 300 req/s",
        ),
        (
            "quote, 1 line / 200 lines",
            f"{r['quote_1_line_ms']:.2f} / {r['quote_200_lines_ms']:.2f} ms",
            "server time, median",
            "",
        ),
        (
            "engine in-process",
            f"{engine['dealdesk_us']:.1f} us/decision",
            f"cedarpy {fmt(engine['cedarpy_us'])} us, casbin {fmt(engine['casbin_us'])} us",
            f"best batch (median {fmt(engine['dealdesk_median_us'])} us); target < 10 us",
        ),
    ]
    print(
        f"\nload tool: {healthz['tool']}, {CONNECTIONS} connections, {SECONDS} s per run, loopback"
    )
    for name, a, b, c in rows:
        print(f"{name:32} {a:>18}  {b:40} {c}")
    sides = [
        ("/healthz", healthz),
        ("evaluation", evaluations),
        ("before: /healthz", r["before"]["healthz"]),
        ("before: evaluation", r["before"]["evaluations"]),
    ]
    for name, side in sides:
        if "cpu" in side:
            c = side["cpu"]
            print(
                f"CPU per request, {name:18} server {c['server_ms']:.3f} ms, "
                f"PostgreSQL {c['postgres_ms']:.3f} ms, load tool {c['tool_ms']:.3f} ms"
            )
    w = r["writer"]
    print(
        f"decision-log writer: {w['rows']:.0f} rows in {w['commits']:.0f} commits, "
        f"{w['rows_per_commit']} rows and {w['commit_ms']} ms per commit"
    )
    policy_follow.report(r["policy_check"])
    jwt_auth.report(r["jwt_auth"])
    print(
        f"non-2xx: healthz {healthz['non_2xx']}, evaluations {evaluations['non_2xx']}, "
        f"submit+approve {pairs['non_2xx']}; decisions logged {r['decisions_logged']}, "
        f"requests approved {r['requests_approved']}, chain ok {r['chain_ok_after_load']}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
