"""DESIGN 14's figures for the SLA work, on a scratch database `dealdesk_bench_sla`:

1. The dispatcher's SLA scan with BENCH_SLA_STEPS (default 100,000) open, timed steps:
   database time of the claim per pass (EXPLAIN ANALYZE's execution time) and the whole
   pass as the dispatcher runs it (one transaction), with nothing due and with 50 due.
   Target: at most 5 ms of database time per pass.
2. `GET /v1/reports/approval-times` over BENCH_SLA_REQUESTS (default 1,000,000) requests,
   each with a step timing (every fifth with a second), through the full Flask stack
   in-process: p50 / p95 for all time and one quarter, by tier and by approver.
   Target: p95 at most 500 ms.

Run with `python bench/sla_scan.py`; the fill is kept between runs (sized by the env vars).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from api.config import Settings  # noqa: E402
from api.policy.loader import load_policy_dir  # noqa: E402
from api.service.keys import issue_key  # noqa: E402
from api.service.sla import Clock, run_pass  # noqa: E402
from api.storage.approval_times import rebuild_totals  # noqa: E402
from api.storage.database import init_database, open_pool, start_embedded, transaction  # noqa: E402
from api.storage.sla import CLAIM  # noqa: E402
from bench.overrides import percentile  # noqa: E402

STEPS = int(os.environ.get("BENCH_SLA_STEPS", "100000"))
REQUESTS = int(os.environ.get("BENCH_SLA_REQUESTS", "1000000"))
PASSES = int(os.environ.get("BENCH_SLA_PASSES", "50"))
REPEAT = int(os.environ.get("BENCH_REPORT_REPEAT", "20"))
DUE = 50

PEOPLE = """
INSERT INTO people (id, name, tier, manager_id, active) VALUES
    ('ceo.b', 'B', 'ceo', NULL, true), ('vp.b', 'B', 'vp_sales', 'ceo.b', true),
    ('sd.b', 'B', 'sales_director', 'vp.b', true), ('am.b', 'B', 'account_manager', 'sd.b', true)
ON CONFLICT (id) DO NOTHING
"""
REQUESTS_FILL = """
INSERT INTO approval_requests (id, deal_id, state, owner_id, requested_by, deal, decision,
    policy_sha256, current_step, created_at, updated_at)
SELECT md5('sla-' || g)::uuid, 'S-' || g,
    CASE WHEN g <= %(open)s THEN 'pending' ELSE 'approved' END,
    'am.b', 'am.b', '{}',
    '{"owner": {"id": "am.b", "tier": "account_manager"},
      "requester": {"id": "am.b", "tier": "account_manager"}}', 'bench', 0,
    timestamptz '2024-01-01 00:00Z' + g * interval '90 seconds',
    timestamptz '2024-01-01 00:00Z' + g * interval '90 seconds'
FROM generate_series(1, %(n)s) g
"""
STEPS_FILL = """
INSERT INTO approval_steps (request_id, seq, tier, approver_id, state, assigned_at, due_at,
    sla_stage, sla_next_at)
SELECT md5('sla-' || g)::uuid, 0, 'sales_director', 'sd.b', 'pending', now(),
    now() + interval '24 hours', 0, now() + interval '12 hours' + g * interval '1 second'
FROM generate_series(1, %(open)s) g
"""
TIMINGS_FILL = """
INSERT INTO step_timings (request_id, seq, tier, approver_id, assigned_at, assigned_on,
    period_end, due_at, acted_at, acted_by, waited_us, overdue, escalated)
SELECT md5('sla-' || g)::uuid, s.seq, s.tier, s.tier || '.' || (g %% 20), a.at,
    (a.at AT TIME ZONE 'UTC')::date, g %% 7 = 0, a.at + interval '24 hours',
    CASE WHEN g > %(open)s THEN a.at + w.wait END,
    CASE WHEN g > %(open)s THEN s.tier || '.' || (g %% 20) END,
    CASE WHEN g > %(open)s THEN (extract(epoch FROM w.wait) * 1000000)::bigint END,
    w.wait > interval '24 hours', w.wait > interval '48 hours'
FROM generate_series(1, %(n)s) g,
    LATERAL (SELECT timestamptz '2024-01-01 00:00Z' + g * interval '90 seconds' AS at) a,
    LATERAL (SELECT ((g::bigint * 7919) %% 100000) * interval '1 second' AS wait) w,
    LATERAL (SELECT 0 AS seq, 'sales_director' AS tier
             UNION ALL SELECT 1, 'vp_sales' WHERE g %% 5 = 0) s
"""


def scratch_url() -> str:
    server = os.environ.get("DATABASE_URL") or start_embedded(ROOT / ".dealdesk")
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'dealdesk_bench_sla'"
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE dealdesk_bench_sla"))
    params = conninfo_to_dict(server)
    params["dbname"] = "dealdesk_bench_sla"
    return make_conninfo(**params)


def fill(url: str) -> None:
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM approval_requests").fetchone()[0]  # type: ignore[index]
        steps = conn.execute("SELECT count(*) FROM approval_steps").fetchone()[0]  # type: ignore[index]
        if have == REQUESTS and steps == STEPS and not os.environ.get("BENCH_SLA_REFILL"):
            return
        print(f"filling {REQUESTS:,} requests, {STEPS:,} open steps ...", flush=True)
        started = time.perf_counter()
        conn.execute("SET session_replication_role = replica")
        conn.execute("TRUNCATE step_timings, approval_steps, approval_requests CASCADE")
        conn.execute(PEOPLE)
        params = {"n": REQUESTS, "open": STEPS}
        for statement in (REQUESTS_FILL, STEPS_FILL, TIMINGS_FILL):
            conn.execute(statement, params)
        rebuild_totals(conn)  # the fill ran without triggers
        conn.commit()
        conn.autocommit = True
        tables = ("approval_requests", "approval_steps", "step_timings", "step_timing_totals")
        for table in (*tables, "overrides"):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
        print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)


def explain_ms(conn: psycopg.Connection, now: datetime) -> float:
    rows = conn.execute(
        sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + sql.SQL(CLAIM),
        {"now": now, "limit": 100},
    ).fetchone()
    assert rows is not None
    plan = rows[0][0]
    return float(plan["Planning Time"]) + float(plan["Execution Time"])


def scan(url: str) -> dict[str, float]:
    """The claim's database time, and a whole pass as the dispatcher runs it."""
    policy = load_policy_dir(ROOT / "policies").active
    pool = open_pool(url, max_size=2)
    pool.wait()
    db_ms, pass_ms = [], []
    for _ in range(PASSES):
        now = datetime.now(UTC)
        with transaction(pool) as conn:
            db_ms.append(explain_ms(conn, now))
        started = time.perf_counter()
        with transaction(pool) as conn:
            conn.execute("SET LOCAL synchronous_commit = on")
            run_pass(conn, policy, Clock(now, date(2026, 6, 10)))
        pass_ms.append((time.perf_counter() - started) * 1000)
    with transaction(pool) as conn:  # DUE steps fall due: one pass reminds them all
        conn.execute(
            "UPDATE approval_steps SET sla_next_at = now() - interval '1 hour', "
            "assigned_at = now() - interval '13 hours', due_at = now() + interval '11 hours', "
            "sla_stage = 0 "
            "WHERE (request_id, seq) IN (SELECT request_id, seq FROM approval_steps "
            "WHERE state = 'pending' ORDER BY sla_next_at LIMIT %s)",
            (DUE,),
        )
    now = datetime.now(UTC)
    with transaction(pool) as conn:
        due_db_ms = explain_ms(conn, now)
    started = time.perf_counter()
    with transaction(pool) as conn:
        claimed, fired = run_pass(conn, policy, Clock(now, date(2026, 6, 10)), DUE)
    due_pass_ms = (time.perf_counter() - started) * 1000
    pool.close()
    assert (claimed, fired) == (DUE, DUE), (claimed, fired)
    return {
        "idle_db_p50_ms": statistics.median(db_ms),
        "idle_db_p95_ms": percentile(db_ms, 95),
        "idle_pass_p50_ms": statistics.median(pass_ms),
        "idle_pass_p95_ms": percentile(pass_ms, 95),
        "due_claim_db_ms": due_db_ms,
        "due_pass_ms": due_pass_ms,
    }


def report(url: str) -> dict[str, dict[str, float]]:
    pool = open_pool(url, max_size=4)
    pool.wait()
    with transaction(pool) as conn:
        conn.execute("DELETE FROM api_keys WHERE name = 'bench-sla'")
        key, _ = issue_key(conn, "bench-sla", ["audit:read"], "bench")
    app = create_app(
        Settings(database_url=url), pool=pool, policy_set=load_policy_dir(ROOT / "policies")
    )
    logging.getLogger("dealdesk").setLevel(logging.WARNING)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    results = {}
    for group in ("tier", "approver"):
        for span, query in (
            ("all time", ""),
            ("quarter", "&from=2024-02-01&to=2024-04-30"),
            ("a year", "&from=2025-01-01&to=2025-12-31"),
        ):
            path = f"/v1/reports/approval-times?group_by={group}{query}"
            client.get(path, headers=headers)  # warm the cache
            times = []
            for _ in range(REPEAT):
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.get_json()
            results[f"by {group} ({span})"] = {
                "p50_ms": statistics.median(times),
                "p95_ms": percentile(times, 95),
                "items": len(response.get_json()["items"]),
            }
    pool.close()
    return results


def main() -> int:
    url = scratch_url()
    init_database(url)
    fill(url)
    figures = scan(url)
    print(f"\nSLA scan, {STEPS:,} open timed steps, {PASSES} passes (target: <= 5 ms database)")
    print(
        f"  nothing due: claim database time p50 {figures['idle_db_p50_ms']:.3f} ms, "
        f"p95 {figures['idle_db_p95_ms']:.3f} ms; whole pass (transaction, round trips) "
        f"p50 {figures['idle_pass_p50_ms']:.2f} ms, p95 {figures['idle_pass_p95_ms']:.2f} ms"
    )
    print(
        f"  {DUE} due: claim database time {figures['due_claim_db_ms']:.3f} ms; the pass "
        f"that reminds all {DUE} (audit event + outbox each) {figures['due_pass_ms']:.1f} ms"
    )
    times = report(url)
    print(
        f"\napproval-times at {REQUESTS:,} requests, {REPEAT} requests each (target p95 <= 500 ms)"
    )
    for name, row in times.items():
        print(
            f"  {name:24} p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
            f"items {row['items']:.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
