"""console_sessions and console_secret: the finance console's server-side sign-ins.

A session row is found by the sha256 of the random id its cookie carries. A signed-in row is
joined to its API key on every read, so revoking the key ends the session at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

FIND = """
SELECT s.id_hash, s.api_key_id, s.data, s.last_seen_at,
       k.name AS key_name, k.scopes, k.person_id,
       (k.revoked_at IS NOT NULL OR NOT coalesce(p.active, true)) AS revoked
FROM console_sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id
LEFT JOIN people p ON p.id = k.person_id
WHERE s.id_hash = %s AND s.last_seen_at > now() - %s
"""
INSERT = """
INSERT INTO console_sessions (id_hash, api_key_id, data) VALUES (%s, %s, %s)
"""
SAVE_DATA = "UPDATE console_sessions SET data = %s, last_seen_at = now() WHERE id_hash = %s"
TOUCH = "UPDATE console_sessions SET last_seen_at = now() WHERE id_hash = %s"
DELETE = "DELETE FROM console_sessions WHERE id_hash = %s"
END_FOR_KEY = "DELETE FROM console_sessions WHERE api_key_id = %s"
PURGE = """
DELETE FROM console_sessions
WHERE last_seen_at < now() - %s OR (api_key_id IS NULL AND last_seen_at < now() - %s)
"""
SEED_SECRET = "INSERT INTO console_secret (one, secret) VALUES (true, %s) ON CONFLICT DO NOTHING"  # noqa: S105 (SQL, not a secret)
SECRET = "SELECT secret FROM console_secret"  # noqa: S105 (SQL, not a secret)


@dataclass(frozen=True, slots=True)
class SessionRow:
    id_hash: str
    api_key_id: int | None
    data: dict[str, Any]
    last_seen_at: datetime
    key_name: str | None
    scopes: list[str] | None
    person_id: str | None
    revoked: bool


def find_session(conn: psycopg.Connection, id_hash: str, idle: timedelta) -> SessionRow | None:
    """The session, unless idle for longer than `idle` (its key may be revoked: see .revoked)."""
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        return cur.execute(FIND, (id_hash, idle)).fetchone()


def create_session(
    conn: psycopg.Connection, id_hash: str, api_key_id: int | None, data: dict[str, Any]
) -> None:
    conn.execute(INSERT, (id_hash, api_key_id, Jsonb(data)))


def save_data(conn: psycopg.Connection, id_hash: str, data: dict[str, Any]) -> None:
    conn.execute(SAVE_DATA, (Jsonb(data), id_hash))


def touch(conn: psycopg.Connection, id_hash: str) -> None:
    conn.execute(TOUCH, (id_hash,))


def delete_session(conn: psycopg.Connection, id_hash: str) -> None:
    conn.execute(DELETE, (id_hash,))


def end_key_sessions(conn: psycopg.Connection, api_key_id: int) -> int:
    """Delete every session of a key (its revocation already stops them being honoured)."""
    return conn.execute(END_FOR_KEY, (api_key_id,)).rowcount


def purge(conn: psycopg.Connection, idle: timedelta, visitor_idle: timedelta) -> int:
    return conn.execute(PURGE, (idle, visitor_idle)).rowcount


def console_secret(conn: psycopg.Connection) -> str:
    """The fleet's cookie-signing secret, made on first use."""
    conn.execute(SEED_SECRET, (secrets.token_urlsafe(48),))
    row = conn.execute(SECRET).fetchone()
    assert row is not None
    return str(row[0])
