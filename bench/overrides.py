"""Finance reads at scale: one page of overrides at 1,000,000 rows, the summary, and audit
verify per million events. Run with `make bench` (or `python bench/overrides.py`).

Builds a scratch database `dealdesk_bench` on the embedded PostgreSQL (or DATABASE_URL's
server), fills it once (kept between runs), then times requests through the full Flask stack
in-process (routing, auth, SQL, JSON), so the figures exclude only the network.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from api.audit.chain import GENESIS, chain_hash, verify  # noqa: E402
from api.config import Settings  # noqa: E402
from api.policy.loader import load_policy_dir  # noqa: E402
from api.service.keys import issue_key  # noqa: E402
from api.storage.audit import chain_rows  # noqa: E402
from api.storage.database import init_database, open_pool, start_embedded, transaction  # noqa: E402

ROWS = int(os.environ.get("BENCH_OVERRIDES", "1000000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "100"))

FILL = """
INSERT INTO overrides (id, deal_id, owner_id, owner_tier, executive_id, executive_tier, categories,
    terms_before, terms_after, excess, excess_value, currency, reason_code, justification,
    fiscal_year, fiscal_quarter, period_end, period, policy_name, policy_version, policy_sha256,
    review_status, created_at, created_on, event_hash)
SELECT gen_random_uuid(), 'D-' || g, 'am.' || (g %% 400), 'account_manager', 'exec.' || (g %% 40),
    'vp_sales',
    CASE g %% 4 WHEN 0 THEN ARRAY['beyond_executive_authority']
        WHEN 1 THEN ARRAY['bypassed_owner']
        WHEN 2 THEN ARRAY['beyond_executive_authority', 'beyond_policy']
        ELSE ARRAY['out_of_chain'] END,
    '{"discount_pct": "18"}', '{"discount_pct": "35"}', '[]', (g %% 100000) / 10.0, 'USD',
    'competitive_displacement', 'Bench row: competitor matched our price at quarter end.',
    2024 + (g * 3 / %(rows)s), 1 + (g / 2000) %% 4, g %% 7 = 0, '{}', 'deal-authority', 'bench',
    'bench', CASE WHEN g %% 5 = 0 THEN 'accepted' ELSE 'pending' END,
    t.at, (t.at AT TIME ZONE 'UTC')::date, md5(g::text)
FROM generate_series(1, %(rows)s) g,
     LATERAL (SELECT timestamptz '2024-01-01 00:00Z' + g * interval '90 seconds' AS at) t
"""

QUERIES = {
    "first page, no filter": "",
    "deep page (cursor at row 900k)": "CURSOR",
    "fiscal_year + fiscal_quarter": "fiscal_year=2025&fiscal_quarter=3",
    "executive + period_end": "executive_id=exec.7&period_end=true",
    "one month (from/to)": "from=2025-03-01&to=2025-03-31",
    "category + review_status": "category=out_of_chain&review_status=pending",
    "owner + fiscal_year": "owner_id=am.17&fiscal_year=2026",
}


def scratch_url() -> str:
    server = os.environ.get("DATABASE_URL") or start_embedded(ROOT / ".dealdesk")
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'dealdesk_bench'"
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE dealdesk_bench"))
    params = conninfo_to_dict(server)
    params["dbname"] = "dealdesk_bench"
    return make_conninfo(**params)


def fill(url: str) -> None:
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM overrides").fetchone()[0]  # type: ignore[index]
        if have < ROWS:
            print(f"filling {ROWS:,} overrides ...", flush=True)
            conn.execute("SET session_replication_role = replica")
            conn.execute("TRUNCATE override_reviews, overrides")
            conn.execute(FILL, {"rows": ROWS})
            conn.execute("ANALYZE overrides")
        events = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]  # type: ignore[index]
        if events < EVENTS:
            print(f"writing {EVENTS:,} chained audit events ...", flush=True)
            conn.execute("SET session_replication_role = replica")
            conn.execute("TRUNCATE audit_events")
            write_chain(conn)


def write_chain(conn: psycopg.Connection) -> None:
    prev, start = GENESIS, datetime(2025, 1, 1, tzinfo=UTC)
    with conn.cursor().copy(
        "COPY audit_events (id, at, type, actor, subject, payload, prev_hash, hash) FROM STDIN"
    ) as copy:
        for i in range(1, EVENTS + 1):
            at = start + timedelta(milliseconds=i)
            payload = {"request_id": f"r-{i}", "after": "approved", "version": 2}
            digest = chain_hash(
                prev, i, at, "request.approve", "sd.patel", f"request:r-{i}", payload
            )
            copy.write_row(
                (
                    i,
                    at,
                    "request.approve",
                    "sd.patel",
                    f"request:r-{i}",
                    json.dumps(payload),
                    prev,
                    digest,
                )
            )
            prev = digest
    conn.execute("SELECT setval('audit_events_id_seq', %s)", (EVENTS,))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> int:
    url = scratch_url()
    init_database(url)
    fill(url)
    pool = open_pool(url, max_size=4)
    pool.wait()
    with transaction(pool) as conn:
        conn.execute("DELETE FROM api_keys WHERE name = 'bench'")
        key, _ = issue_key(conn, "bench", ["admin"], "bench")
    app = create_app(
        Settings(database_url=url), pool=pool, policy_set=load_policy_dir(ROOT / "policies")
    )
    logging.getLogger("dealdesk").setLevel(logging.WARNING)  # keep the table readable
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    client.get("/v1/overrides?limit=1", headers=headers)  # warm-up
    import base64

    cursor = base64.urlsafe_b64encode(json.dumps([900_000]).encode()).decode().rstrip("=")
    results: dict[str, dict[str, float]] = {}
    for name, query in QUERIES.items():
        url_path = "/v1/overrides?limit=50&" + (f"cursor={cursor}" if query == "CURSOR" else query)
        times = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            response = client.get(url_path, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.get_json()
        items = len(response.get_json()["items"])
        results[name] = {
            "p50_ms": statistics.median(times),
            "p95_ms": percentile(times, 95),
            "items": items,
        }
    for group in ("executive", "fiscal_quarter"):
        started = time.perf_counter()
        response = client.get(f"/v1/overrides/summary?group_by={group}", headers=headers)
        results[f"summary by {group}"] = {
            "ms": (time.perf_counter() - started) * 1000,
            "groups": len(response.get_json()["items"]),
        }
    with transaction(pool) as conn:
        started = time.perf_counter()
        verdict = verify(chain_rows(conn))
        seconds = time.perf_counter() - started
    results["audit verify"] = {
        "events": verdict.events,
        "seconds": seconds,
        "events_per_s": verdict.events / seconds,
        "ok": verdict.ok,
    }
    pool.close()
    print(
        f"\noverrides: {ROWS:,} rows; page limit 50; {REPEAT} requests each "
        "(in-process, full stack)"
    )
    print(f"{'query':40} {'p50 ms':>8} {'p95 ms':>8} {'items':>6}")
    for name, row in results.items():
        if "p95_ms" in row:
            print(f"{name:40} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f} {int(row['items']):6}")
    for name in ("summary by executive", "summary by fiscal_quarter"):
        print(
            f"{name:40} {results[name]['ms']:8.1f} ms "
            f"(one call, {int(results[name]['groups'])} groups)"
        )
    v = results["audit verify"]
    print(
        f"audit verify: {int(v['events']):,} events in {v['seconds']:.2f} s = "
        f"{v['events_per_s']:,.0f} events/s (ok={v['ok']})"
    )
    out = ROOT / "bench" / "results.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["overrides"] = {
        "rows": ROWS,
        "measured_at": datetime.now(UTC).isoformat(),
        "results": results,
    }
    out.write_text(json.dumps(existing, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
