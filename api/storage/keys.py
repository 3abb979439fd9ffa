"""API keys: only a sha256 of each key is stored; the key itself is shown once at creation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from api.errors import Conflict, NotFound

PREFIX = "ddk_"

INSERT = """
INSERT INTO api_keys (name, key_hash, scopes, person_id, expires_at) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
RETURNING id, name, scopes, created_at, revoked_at, person_id, expires_at, last_used_at
"""
# A people-bound key works only while its person is active (DESIGN 13: deactivation ends it).
BY_HASH = """
SELECT id, name, scopes, created_at, revoked_at, person_id, expires_at, last_used_at FROM api_keys
WHERE key_hash = %s AND revoked_at IS NULL
  AND (person_id IS NULL OR person_id IN (SELECT id FROM people WHERE active))
"""
LIST = """
SELECT id, name, scopes, created_at, revoked_at, person_id, expires_at, last_used_at
FROM api_keys ORDER BY name, id
"""
REVOKE = """
UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL
RETURNING id, name, scopes, created_at, revoked_at, person_id, expires_at, last_used_at
"""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    person_id: str | None = None
    """The person a people-bound key acts as (it may act as no one else); None if unbound."""
    expires_at: datetime | None = None
    """After this the key is refused (401 saying it expired); None: it never expires."""
    last_used_at: datetime | None = None
    """Kept to the minute, off the request path (storage/key_usage.py)."""
    kind: str = "key"
    """`key` for a stored API key; `jwt` for the caller an access token names (never stored)."""

    @property
    def actor(self) -> str:
        """The audit actor: `key:<name>`, or `jwt:<client>` for an access token."""
        return self.name if self.kind == "jwt" else f"key:{self.name}"

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def hash_key(key: str) -> str:
    """Keys are 256 random bits, so a plain sha256 is a sound one-way store for them."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    conn: psycopg.Connection,
    name: str,
    scopes: list[str],
    person_id: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiKey]:
    key = PREFIX + secrets.token_urlsafe(32)
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        row = cur.execute(INSERT, (name, hash_key(key), scopes, person_id, expires_at)).fetchone()
    if row is None:
        raise Conflict(f"A key named {name!r} already exists.")
    return key, row


def find_key(conn: psycopg.Connection, key: str) -> ApiKey | None:
    return find_key_by_hash(conn, hash_key(key))


def find_key_by_hash(conn: psycopg.Connection, key_hash: str) -> ApiKey | None:
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        return cur.execute(BY_HASH, (key_hash,)).fetchone()


def list_keys(conn: psycopg.Connection) -> list[ApiKey]:
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        return cur.execute(LIST).fetchall()


def revoke_key(conn: psycopg.Connection, name: str) -> ApiKey:
    with conn.cursor(row_factory=class_row(ApiKey)) as cur:
        row = cur.execute(REVOKE, (name,)).fetchone()
    if row is None:
        raise NotFound(f"No active key named {name!r}.")
    return row
