"""Version 4 against version 7 decision ids: WAL bytes and PostgreSQL CPU per logged row.

Two copies of the `decisions` table, each already holding BENCH_ID_ROWS rows (300,000) keyed
one way; then, after a checkpoint, the same inserts into each in groups of three, twice in
alternating order. After a checkpoint PostgreSQL writes a whole index page to the WAL the
first time each page changes: random ids touch a new page nearly every insert, time-ordered
ids the last page only.

    .venv/bin/python bench/decision_ids.py
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from api.ids import uuid7  # noqa: E402
from bench import cpu, run  # noqa: E402

ROWS = int(os.environ.get("BENCH_ID_ROWS", "300000"))
GROUPS, GROUP = 2000, 3
COLUMNS = sql.SQL(
    "id, as_of, deal_id, requester_id, owner_id, input, output, outcome, policy_sha256"
)
INSERT = sql.SQL("INSERT INTO {} ({}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
KINDS: dict[str, Callable[[], uuid.UUID]] = {"v4": uuid.uuid4, "v7": uuid7}


def main() -> int:
    url = run.scratch_database("dealdesk_bench_ids")
    document = json.dumps({"explanation": "x" * 1500})  # about a decision's size
    with psycopg.connect(url, autocommit=True) as conn:
        for kind, make in KINDS.items():
            table = sql.Identifier(f"ids_{kind}")
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE decisions INCLUDING ALL)").format(table))
            copying = sql.SQL("COPY {} ({}) FROM STDIN").format(table, COLUMNS)
            with conn.cursor().copy(copying) as copy:
                for _ in range(ROWS):
                    row = (make(), "2026-12-01", "Q-1", "am", "am", "{}", "{}", "ok", "x")
                    copy.write_row(row)
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(table))
        pid = conn.info.backend_pid
        print(f"{ROWS:,} rows in each table; {GROUPS:,} inserts of {GROUP} rows after a checkpoint")
        for round_ in (1, 2):
            for kind, make in KINDS.items():
                table = sql.Identifier(f"ids_{kind}")
                conn.execute("CHECKPOINT")
                start = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
                assert start is not None
                used = cpu.process_seconds(pid)
                began = time.perf_counter()
                for _ in range(GROUPS):
                    rows = [
                        (make(), "2026-12-01", "Q-1", "am", "am", document, document, "ok", "x")
                        for _ in range(GROUP)
                    ]
                    with conn.transaction(), conn.cursor() as cur:
                        cur.executemany(INSERT.format(table, COLUMNS), rows)
                seconds = time.perf_counter() - began
                used = cpu.process_seconds(pid) - used
                wal = conn.execute(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (start[0],)
                ).fetchone()
                assert wal is not None
                n = GROUPS * GROUP
                print(
                    f"round {round_} {kind}: WAL {float(wal[0]) / n:,.0f} bytes per row, "
                    f"PostgreSQL CPU {used * 1000 / n:.3f} ms per row, "
                    f"{seconds * 1000 / GROUPS:.3f} ms per commit"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
