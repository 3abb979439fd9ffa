"""audit_checkpoints: which audit events were sealed, so each is announced once."""

from __future__ import annotations

from datetime import datetime

import psycopg

CHECKPOINT_LOCK = 7_451_003
LOCK = "SELECT pg_advisory_xact_lock(%s)"
LAST = "SELECT event_id FROM audit_checkpoints ORDER BY event_id DESC LIMIT 1"
HEAD = "SELECT id FROM audit_events ORDER BY id DESC LIMIT 1"
FIRST_AFTER = "SELECT at FROM audit_events WHERE id > %s ORDER BY id LIMIT 1"
AT_OR_BEFORE = """
SELECT id, hash, (SELECT count(*) FROM audit_events WHERE id <= a.id) FROM audit_events a
WHERE id <= %s ORDER BY id DESC LIMIT 1
"""
INSERT = """
INSERT INTO audit_checkpoints (event_id, hash, events, at) VALUES (%s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING RETURNING event_id
"""
HASH_OF = "SELECT hash FROM audit_events WHERE id = %s"


def lock(conn: psycopg.Connection) -> None:
    conn.execute(LOCK, (CHECKPOINT_LOCK,))


def last_sealed(conn: psycopg.Connection) -> int:
    row = conn.execute(LAST).fetchone()
    return int(row[0]) if row else 0


def head(conn: psycopg.Connection) -> int:
    row = conn.execute(HEAD).fetchone()
    return int(row[0]) if row else 0


def first_after(conn: psycopg.Connection, event_id: int) -> datetime | None:
    row = conn.execute(FIRST_AFTER, (event_id,)).fetchone()
    return row[0] if row else None


def event_at_or_before(conn: psycopg.Connection, event_id: int) -> tuple[int, str, int] | None:
    row = conn.execute(AT_OR_BEFORE, (event_id,)).fetchone()
    return (int(row[0]), str(row[1]), int(row[2])) if row else None


def record(conn: psycopg.Connection, event_id: int, hash_: str, events: int, at: datetime) -> bool:
    return conn.execute(INSERT, (event_id, hash_, events, at)).fetchone() is not None
