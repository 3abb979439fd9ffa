"""How long `dealdesk db migrate` holds its locks on a database of the previous release.

Builds a scratch database with the previous release's schema (tests/storage/fixtures/
schema_prev.sql), fills it with BENCH_DECISIONS decisions over four months (one in twenty
with a random version 4 id, as written before ids were time-ordered) and BENCH_EVENTS audit
events, runs the real `dealdesk db migrate`, and polls pg_locks every 5 ms for the locks the
migrating backend holds that block the app's writes (SHARE and stronger), printing the
longest hold per table; then checks every row is still there.

    .venv/bin/python bench/upgrade_locks.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.storage.database import start_embedded  # noqa: E402
from tests.storage.planting import previous_release, scratch_database  # noqa: E402

DECISIONS = int(os.environ.get("BENCH_DECISIONS", "1000000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
APP = "migrate-under-test"
FILL_DECISIONS = """
INSERT INTO decisions (id, created_at, as_of, deal_id, requester_id, owner_id, input, output,
                       outcome, policy_sha256)
SELECT CASE WHEN g %% 20 = 0 THEN gen_random_uuid() ELSE
         (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7'
          || substr(md5(g::text), 1, 3) || '8' || substr(md5(g::text || 'x'), 1, 15))::uuid
       END,
       ts, ts::date, 'Q-' || g, 'am.jones', 'am.jones',
       '{"deal": {"discount_pct": "12", "list_amount": "250000"}}',
       '{"outcome": "needs_approval", "findings": []}', 'needs_approval', 'abc'
FROM (SELECT g, now() - (g %% 120) * interval '1 day' - (g %% 86400) * interval '1 second' AS ts
      FROM generate_series(1, %s) g) s
"""
FILL_EVENTS = """
INSERT INTO audit_events (id, at, type, actor, subject, payload, prev_hash, hash)
SELECT g, now() - (%s - g) * interval '1 second', 'request.approve', 'sd.patel',
       'request:r-' || (g %% 50000), '{"after": "approved"}', md5((g - 1)::text), md5(g::text) || g
FROM generate_series(1, %s) g
"""
BLOCKING = """
SELECT coalesce(c.relname, '(made in the migration)'), l.mode
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.application_name = %s AND l.granted AND l.locktype = 'relation'
  AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
  AND (c.relname IS NULL OR c.relname NOT LIKE 'pg_%%')
"""


def fill(url: str) -> None:
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        conn.execute(FILL_DECISIONS, (DECISIONS,))
        conn.execute(FILL_EVENTS, (EVENTS, EVENTS))
    took = time.monotonic() - started
    print(f"filled {DECISIONS:,} decisions and {EVENTS:,} audit events in {took:.0f} s")


def watch(url: str, held: dict[tuple[str, str], float], stop: threading.Event) -> None:
    """The longest continuous hold of each (table, mode), polled every 5 ms."""
    first: dict[tuple[str, str], float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            now = time.monotonic()
            seen = set(conn.execute(BLOCKING, (APP,)).fetchall())
            for key in seen:
                first.setdefault(key, now)
            for key in [k for k in first if k not in seen]:
                held[key] = max(held.get(key, 0.0), now - first.pop(key))
            time.sleep(0.005)
    for key, since in first.items():
        held[key] = max(held.get(key, 0.0), time.monotonic() - since)


def migrate(url: str) -> float:
    env = {**os.environ, "DATABASE_URL": url, "PGAPPNAME": APP}
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dealdesk"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    print(done.stdout.strip())
    return time.monotonic() - started


def main() -> None:
    server = start_embedded(ROOT / ".dealdesk")
    with scratch_database(server, "locks") as url:
        previous_release(url)
        fill(url)
        held: dict[tuple[str, str], float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(url, held, stop))
        watcher.start()
        time.sleep(0.2)
        took = migrate(url)
        stop.set()
        watcher.join()
        print(f"dealdesk db migrate took {took:.1f} s; longest holds of locks that block writes:")
        for (table, mode), seconds in sorted(held.items(), key=lambda kv: -kv[1])[:12]:
            print(f"  {seconds * 1000:7.0f} ms  {mode:22s} {table}")
        with psycopg.connect(url) as conn:
            decisions = conn.execute("SELECT count(*) FROM decisions").fetchone()
            events = conn.execute("SELECT count(*) FROM audit_events").fetchone()
        print(
            f"after: {decisions[0] if decisions else 0:,} decisions, "
            f"{events[0] if events else 0:,} audit events"
        )


if __name__ == "__main__":
    main()
