"""The reports of DESIGN section 9 at 1,000,000 approval requests and 1,000,000 overrides:
p50/p95 per report for one fiscal quarter's range and for all time, through the full Flask
stack in-process (routing, auth, SQL, the pure arithmetic, JSON). Run with
`python bench/reports.py` (`make bench` runs it too).

Uses the scratch database `dealdesk_bench` of bench/overrides.py (its 1M overrides, filled
there and kept) and fills, once and kept, 1M approval requests with their report history:
1.2M asks (every fifth request revised once), 3.6M ask levers, 1M step actions and 100k
withdrawals spread over 2024-01-01 .. 2026-11, 400 owners and 40 approvers.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from api.config import Settings  # noqa: E402
from api.policy.loader import load_policy_dir  # noqa: E402
from api.service.keys import issue_key  # noqa: E402
from api.service.patterns import roll_up  # noqa: E402
from api.storage.database import init_database, open_pool, transaction  # noqa: E402
from bench.overrides import fill as fill_overrides  # noqa: E402
from bench.overrides import percentile, scratch_url  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000000"))
REPEAT = int(os.environ.get("BENCH_REPORT_REPEAT", "20"))

# Request g is submitted at 2024-01-01 + g * 90 s (the overrides fill spans the same days).
# Fiscal years start on 02-01: month index m = months since February.
PERIODS = """
CREATE TEMP TABLE bench_asks AS
SELECT g, md5('request-' || g)::uuid AS request_id, t.at, d.day,
    ((extract(month FROM d.day)::int + 10) %% 12) AS m,
    extract(year FROM d.day)::int + (extract(month FROM d.day)::int >= 2)::int AS fy
FROM generate_series(1, %(n)s) g,
    LATERAL (SELECT timestamptz '2024-01-01 00:00Z' + g * interval '90 seconds' AS at) t,
    LATERAL (SELECT (t.at AT TIME ZONE 'UTC')::date AS day) d
"""
REQUESTS_FILL = """
INSERT INTO approval_requests (id, deal_id, state, owner_id, requested_by, deal, decision,
    policy_sha256, created_at, updated_at)
SELECT request_id, 'D-' || g, CASE WHEN g %% 10 = 0 THEN 'withdrawn' ELSE 'approved' END,
    'am.' || (g %% 400), 'am.' || (g %% 400), '{}', '{}', 'bench', at, at
FROM bench_asks
"""
ASKS_FILL = """
INSERT INTO asks (request_id, deal_id, kind, owner_id, requester_id, requester_tier,
    business_date, created_at, created_on, close_date, close_fiscal_year, close_fiscal_quarter,
    slipped, fiscal_year, fiscal_quarter, days_to_quarter_end, flags)
SELECT request_id, 'D-' || g, k.kind, 'am.' || (g %% 400), 'am.' || (g %% 400),
    CASE WHEN g %% 10 = 3 THEN 'sales_manager' ELSE 'account_manager' END,
    day, at + k.later, day, day + 30, fy, m / 3 + 1, k.kind = 'revision' AND g %% 3 = 0,
    fy, m / 3 + 1,
    ((date_trunc('month', day) - make_interval(months => m %% 3) + interval '3 months')::date
        - 1 - day),
    CASE WHEN g %% 7 = 0 THEN ARRAY['seller_timeline']
         WHEN g %% 50 = 1 THEN ARRAY['after_customer_no', 'deeper_after_customer_no']
         WHEN g %% 50 = 2 THEN ARRAY['after_customer_no'] ELSE ARRAY[]::text[] END
FROM bench_asks,
    LATERAL (SELECT 'submission' AS kind, interval '0' AS later
             UNION ALL SELECT 'revision', interval '1 second' WHERE g %% 5 = 0) k
"""
LEVERS_FILL = """
INSERT INTO ask_levers (ask_id, lever, value, ceiling, kind, created_on, owner_id,
    requester_tier, fiscal_year, fiscal_quarter, days_to_quarter_end)
SELECT a.id, l.lever, l.value, l.ceiling, a.kind, a.created_on, a.owner_id, a.requester_tier,
    a.fiscal_year, a.fiscal_quarter, a.days_to_quarter_end
FROM asks a,
    LATERAL (VALUES
        ('discount_pct', ((a.id * 7) %% 400) / 10.0, 10.0),
        ('effective_discount_pct', ((a.id * 7) %% 400) / 10.0 + 1, 12.0),
        ('rebate_pct', (a.id %% 5)::numeric, 0.0),
        ('payment_terms_days', 30 + (a.id %% 4) * 15, 30.0)) AS l(lever, value, ceiling)
WHERE l.lever IN ('discount_pct', 'effective_discount_pct')
    OR (l.lever = 'rebate_pct' AND a.id %% 5 = 0)
    OR (l.lever = 'payment_terms_days' AND a.id %% 2 = 0)
"""
ACTIONS_FILL = """
INSERT INTO step_actions (request_id, seq, tier, actor_id, action, acted_at, acted_on)
SELECT request_id, 0, 'sales_manager', 'sm.' || (g %% 40),
    (ARRAY['approve', 'approve', 'approve', 'reject', 'return'])[1 + g %% 5], at, day
FROM bench_asks
"""
WITHDRAWALS_FILL = """
INSERT INTO withdrawals (request_id, deal_id, owner_id, reason_code, business_date,
    withdrawn_at, withdrawn_on, asked)
SELECT request_id, 'D-' || g, 'am.' || (g %% 400),
    (ARRAY['customer_declined', 'customer_delayed', 'lost_to_competitor', 'duplicate',
        'other'])[1 + (g / 10) %% 5], day, at, day, '{"discount_pct": "12"}'
FROM bench_asks WHERE g %% 10 = 0
"""
OVERRIDE_PERIODS = """
UPDATE overrides SET period = jsonb_build_object('days_to_quarter_end', (seq * 7) %% 92)
WHERE days_to_quarter_end IS NULL
"""

QUARTER = "from=2025-05-01&to=2025-07-31"
REPORTS = {
    "threshold-proximity by tier": "threshold-proximity?lever=discount_pct",
    "threshold-proximity by owner": "threshold-proximity?lever=discount_pct&group_by=owner",
    "period-end": "period-end?lever=discount_pct",
    "rescues": "rescues",
    "seller-timeline": "seller-timeline",
    "customer-no": "customer-no",
}


def fill(url: str) -> None:
    fill_overrides(url)
    with psycopg.connect(url) as conn:
        if conn.execute(
            "SELECT count(*) FROM overrides WHERE days_to_quarter_end IS NULL"
        ).fetchone()[0]:  # type: ignore[index]
            print("giving the bench overrides a period ...", flush=True)
            conn.execute("SET session_replication_role = replica")
            conn.execute(OVERRIDE_PERIODS, {})
            conn.commit()
        have = conn.execute("SELECT count(*) FROM approval_requests").fetchone()[0]  # type: ignore[index]
        if have >= REQUESTS:
            return
        print(f"filling {REQUESTS:,} approval requests and their history ...", flush=True)
        started = time.perf_counter()
        conn.execute("SET session_replication_role = replica")
        conn.execute("TRUNCATE ask_levers, asks, step_actions, withdrawals, approval_steps")
        conn.execute("DELETE FROM approval_requests")  # overrides refer to it: no TRUNCATE
        for statement in (
            PERIODS,
            REQUESTS_FILL,
            ASKS_FILL,
            LEVERS_FILL,
            ACTIONS_FILL,
            WITHDRAWALS_FILL,
        ):
            conn.execute(statement, {"n": REQUESTS})
        conn.commit()
        conn.autocommit = True
        tables = ("overrides", "approval_requests", "asks", "ask_levers", "step_actions")
        for table in (*tables, "withdrawals"):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
        print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)


def main() -> int:
    url = scratch_url()
    init_database(url)
    fill(url)
    pool = open_pool(url, max_size=4)
    pool.wait()
    with transaction(pool) as conn:
        conn.execute("DELETE FROM api_keys WHERE name = 'bench-reports'")
        key, _ = issue_key(conn, "bench-reports", ["audit:read"], "bench")
    app = create_app(
        Settings(database_url=url), pool=pool, policy_set=load_policy_dir(ROOT / "policies")
    )
    logging.getLogger("dealdesk").setLevel(logging.WARNING)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    with pool.connection() as conn:
        sizes = {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))
            ).fetchone()[0]  # type: ignore[index]
            for t in ("approval_requests", "overrides", "asks", "ask_levers", "step_actions")
        }
    with transaction(pool) as conn:  # timed apart: the first report after a deploy rolls up
        conn.execute(
            "TRUNCATE report_rollups, rollup_offsets, rollup_submissions, rollup_asks, "
            "rollup_submitted_values, rollup_override_buckets, rollup_actions, rollup_categories"
        )
    started = time.perf_counter()
    assert client.get("/v1/reports/rescues", headers=headers).status_code == 200
    first_call_s = time.perf_counter() - started
    started = time.perf_counter()
    with transaction(pool) as conn:
        roll_up(conn)  # what `dealdesk db init` does
    roll_up_s = time.perf_counter() - started
    results: dict[str, dict[str, float]] = {
        "rollups": {"first_call_s": first_call_s, "roll_up_rest_s": roll_up_s}
    }
    for name, path in REPORTS.items():
        for span, query in (("quarter", QUARTER), ("all time", "")):
            sep = "&" if "?" in path else "?"
            full = f"/v1/reports/{path}{sep}{query}" if query else f"/v1/reports/{path}"
            client.get(full, headers=headers)  # warm the cache
            times = []
            for _ in range(REPEAT):
                started = time.perf_counter()
                response = client.get(full, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.get_json()
            results[f"{name} ({span})"] = {
                "p50_ms": statistics.median(times),
                "p95_ms": percentile(times, 95),
                "items": len(response.get_json()["items"]),
            }
    pool.close()
    print(
        "\nreports: "
        + ", ".join(f"{t} {n:,}" for t, n in sizes.items())
        + f"; {REPEAT} requests each (in-process, full stack)"
    )
    print(f"{'report':44} {'p50 ms':>8} {'p95 ms':>8} {'items':>6} target")
    print(
        f"rollups from scratch: first report call {first_call_s:.1f} s (rolls within its "
        f"2 s budget), then the rest of history {roll_up_s:.1f} s (dealdesk db init)"
    )
    for name, row in results.items():
        if "p95_ms" not in row:
            continue
        target = 500 if "quarter" in name else 2000
        verdict = "met" if row["p95_ms"] <= target else "NOT MET"
        print(
            f"{name:44} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} {int(row['items']):6} "
            f"<= {target} ms: {verdict}"
        )
    out = ROOT / "bench" / "results.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["reports"] = {
        "sizes": sizes,
        "repeat": REPEAT,
        "measured_at": datetime.now(UTC).isoformat(),
        "results": results,
    }
    out.write_text(json.dumps(existing, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
