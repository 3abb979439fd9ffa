"""`dealdesk db migrate`: one runner brings a database made by any earlier release to the
current schema, and keeps the decision log's months made ahead.

One runner at a time: a session advisory lock (others wait for it, then find the work done).
Every statement runs with `lock_timeout`; a step that hits it is rolled back and retried with
backoff, so an upgrade never queues long behind (and in front of) the application's traffic.
The steps: `schema.sql` (the whole current schema, idempotent), the conversion of an
unpartitioned `decisions` (api/storage/partitions.py), the months ahead, and the row in
`schema_version`. SCHEMA_VERSION is what this code needs; bump it, and SCHEMA_SHA256 beside
it, whenever schema.sql changes (a test compares the file's sha256 with SCHEMA_SHA256).
Versions: 0 is any database made before `schema_version` existed; 1 partitions decisions.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

import psycopg

from api.errors import DealdeskError, Unavailable
from api.storage import partitions

SCHEMA_VERSION = 1
SCHEMA_SHA256 = "b6bd7d6764bac18c6f8961e0d32646ad42c5c1c6d0563f89b6d90b0d7a460660"
LOCK = 7_451_026  # schema and partition DDL: one process at a time
LOCK_TIMEOUT_MS = 5000
RETRIES = 8
WAIT_FOR_LOCK_S = 600.0
MONTHS_AHEAD = 3

VERSION = "SELECT coalesce(max(version), 0) FROM schema_version"
RECORD = """
INSERT INTO schema_version (version, schema_sha256) VALUES (%s, %s)
ON CONFLICT (version) DO NOTHING
"""
T = TypeVar("T")
SCHEMA_LOCK = 7_451_001
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.sql"


def apply_schema(conn: psycopg.Connection) -> None:
    """Apply schema.sql; idempotent, and serialised against other processes doing the same."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
    conn.execute(SCHEMA_FILE.read_bytes())  # our own file, never input


class SchemaTooOld(DealdeskError):
    """The database's schema is older than this code needs."""


def schema_sha256() -> str:
    return hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()


def current_version(conn: psycopg.Connection) -> int:
    made = conn.execute("SELECT to_regclass('schema_version')").fetchone()
    if made is None or made[0] is None:
        return 0  # made before `schema_version` existed
    row = conn.execute(VERSION).fetchone()
    return int(row[0]) if row else 0


def require_current(url: str) -> None:
    """Refuse to serve a schema older than SCHEMA_VERSION (when `serve` does not migrate)."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = current_version(conn)
    if found < SCHEMA_VERSION:
        raise SchemaTooOld(
            f"the database schema is version {found}, older than the version "
            f"{SCHEMA_VERSION} this server needs: run `dealdesk db migrate` first"
        )


def migrate(url: str, *, today: date | None = None, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> int:
    """Upgrade to SCHEMA_VERSION if needed and make the months ahead; returns the version the
    database was at before (SCHEMA_VERSION when there was nothing to do)."""
    month = _month(today)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{lock_timeout_ms}ms",))
        wait_for_lock(conn)
        try:
            before = current_version(conn)
            if before < SCHEMA_VERSION:
                _upgrade(conn, month)
            ensure_months(conn, month)
            return before
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))


def _upgrade(conn: psycopg.Connection, month: date) -> None:
    in_transaction(conn, apply_schema)
    if not partitions.is_partitioned(conn):
        first = partitions.add_months(month, 1)
        in_transaction(conn, lambda c: partitions.convert_move(c, first))
        in_transaction(conn, partitions.convert_validate)
        in_transaction(conn, lambda c: partitions.convert_swap(c, first))
    in_transaction(conn, lambda c: c.execute(RECORD, (SCHEMA_VERSION, schema_sha256())))


def ensure_months(conn: psycopg.Connection, month: date) -> list[date]:
    """This month and the next MONTHS_AHEAD, each in its own transaction; the months made.
    The caller holds LOCK."""
    made: list[date] = []
    if not partitions.is_partitioned(conn):
        return made  # not converted yet: `dealdesk db migrate` does that first
    for n in range(MONTHS_AHEAD + 1):
        wanted = partitions.add_months(month, n)
        if in_transaction(conn, lambda c, m=wanted: partitions.create_month(c, m)):  # type: ignore[misc]
            made.append(wanted)
    return made


def maintain(url: str, *, today: date | None = None) -> list[date] | None:
    """The daily job: make the months ahead unless another process holds LOCK (None then)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{LOCK_TIMEOUT_MS}ms",))
        if not _try_lock(conn):
            return None
        try:
            return ensure_months(conn, _month(today))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))


def in_transaction(conn: psycopg.Connection, step: Callable[[psycopg.Connection], T]) -> T:
    """Run one step in its own transaction; on lock_timeout roll back and retry with backoff."""
    for attempt in range(RETRIES):
        try:
            with conn.transaction():
                return step(conn)
        except psycopg.errors.LockNotAvailable:
            time.sleep(min(0.2 * 2**attempt, 10.0))
    raise Unavailable(f"a lock stayed busy through {RETRIES} tries; run the migration again")


def _try_lock(conn: psycopg.Connection, key: int = LOCK) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def wait_for_lock(conn: psycopg.Connection, key: int = LOCK) -> None:
    """A session advisory lock, waited for (polled: lock_timeout would cut a real wait)."""
    deadline = time.monotonic() + WAIT_FOR_LOCK_S
    while not _try_lock(conn, key):
        if time.monotonic() > deadline:
            raise Unavailable("another process has held the lock too long; try again")
        time.sleep(0.1)


def _month(today: date | None) -> date:
    day = today or datetime.now(UTC).date()
    return date(day.year, day.month, 1)
