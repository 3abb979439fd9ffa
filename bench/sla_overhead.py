"""What recording approval times costs on the write path: submit + approve pairs through the
full Flask stack in-process, on a scratch database of its own.

`python bench/sla_overhead.py [--no-sla] [--pairs N]` prints the median and p95 of one
submit + approve pair. Run it from another checkout (PYTHONPATH) to compare a commit before
issue 25; `--no-sla` runs the shipped policy without `spec.sla` (nothing timed, but
`assigned_at`, `eligible` and the step timings are still written).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
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
from api.storage.database import init_database, open_pool, start_embedded, transaction  # noqa: E402
from bench.cpu import process_seconds  # noqa: E402

ORG = [
    ("ceo.o", "ceo", None),
    ("vp.o", "vp_sales", "ceo.o"),
    ("sd.o", "sales_director", "vp.o"),
    ("sm.o", "sales_manager", "sd.o"),
    ("am.o", "account_manager", "sm.o"),
]


def server() -> str:
    return os.environ.get("DATABASE_URL") or start_embedded(ROOT / ".dealdesk")


def scratch(name: str) -> str:
    with psycopg.connect(server(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server())
    params["dbname"] = name
    return make_conninfo(**params)


def drop(name: str) -> None:
    with psycopg.connect(server(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def policies(no_sla: bool) -> Path:
    text = (ROOT / "policies" / "deal-authority.yaml").read_text()
    if no_sla:
        text = text.split("  # How soon a step")[0]
    directory = Path(tempfile.mkdtemp(prefix="sla-overhead-"))
    (directory / "deal-authority.yaml").write_text(text)
    return directory


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-sla", action="store_true")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--no-totals", action="store_true", help="drop the totals trigger")
    args = parser.parse_args()
    name = f"dealdesk_bench_overhead_{uuid.uuid4().hex[:6]}"
    url = scratch(name)
    init_database(url)
    if args.no_totals:
        with psycopg.connect(url) as conn:
            conn.execute("DROP TRIGGER step_timings_totals ON step_timings")
    pool = open_pool(url, min_size=1, max_size=1)  # one backend, so its CPU can be read
    pool.wait()
    with transaction(pool) as conn:
        key, _ = issue_key(conn, "bench", ["admin"], "bench")
    directory = policies(args.no_sla)
    app = create_app(
        Settings(database_url=url, policy_dir=directory),
        pool=pool,
        policy_set=load_policy_dir(directory),
    )
    logging.getLogger("dealdesk").setLevel(logging.WARNING)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    for person, tier, manager in ORG:
        body = {"name": person, "tier": tier, "manager_id": manager}
        assert client.put(f"/v1/people/{person}", json=body, headers=headers).status_code == 201
    times = []
    with pool.connection() as conn:
        backend = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
    for n in range(args.pairs + 20):
        if n == 20:
            cpu_client, cpu_server = time.process_time(), process_seconds(backend)
        deal = {
            "deal_id": f"O-{n}",
            "owner_id": "am.o",
            "currency": "USD",
            "list_amount": "250000.00",
            "discount_pct": "18",
        }
        started = time.perf_counter()
        made = client.post(
            "/v1/approval-requests", json={"deal": deal, "requested_by": "am.o"}, headers=headers
        )
        done = client.post(
            f"/v1/approval-requests/{made.json['id']}/approve",
            json={"approver_id": "sd.o"},
            headers=headers,
        )
        elapsed = (time.perf_counter() - started) * 1000
        assert (made.status_code, done.status_code) == (201, 200), (made.json, done.json)
        if n >= 20:  # the first ones warm caches
            times.append(elapsed)
    cpu_client = (time.process_time() - cpu_client) / args.pairs * 1000
    cpu_server = (process_seconds(backend) - cpu_server) / args.pairs * 1000
    pool.close()
    drop(name)
    times.sort()
    print(
        f"submit + approve ({'no sla' if args.no_sla else 'sla'}), {args.pairs} pairs: "
        f"p50 {statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
        f"mean {statistics.mean(times):.2f} ms; CPU per pair: app {cpu_client:.2f} ms, "
        f"PostgreSQL backend {cpu_server:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
