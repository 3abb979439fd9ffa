"""Idempotency-Key records: the first 2xx response to a key, kept for 48 hours."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

CLAIM = """
INSERT INTO idempotency_keys (api_key_id, key, method, path, body_sha256)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT (api_key_id, key) DO NOTHING RETURNING 1
"""
STORED = """
SELECT method, path, body_sha256, status, headers, body FROM idempotency_keys
WHERE api_key_id = %s AND key = %s
"""
SAVE = """
UPDATE idempotency_keys SET status = %s, headers = %s, body = %s WHERE api_key_id = %s AND key = %s
"""
PURGE = "DELETE FROM idempotency_keys WHERE created_at < now() - interval '48 hours'"


@dataclass(frozen=True, slots=True)
class Stored:
    method: str
    path: str
    body_sha256: str
    status: int | None
    headers: dict[str, str] | None
    body: bytes | None


def claim(
    conn: psycopg.Connection, api_key_id: int, key: str, method: str, path: str, fingerprint: str
) -> Stored | None:
    """Claim a key for this transaction; None when it is ours, else what was stored first.

    A concurrent claim of the same key waits on the unique index until the first commits.
    """
    if random.random() < 0.01:  # noqa: S311  (housekeeping, not security)
        conn.execute(PURGE)
    if conn.execute(CLAIM, (api_key_id, key, method, path, fingerprint)).fetchone():
        return None
    row = conn.execute(STORED, (api_key_id, key)).fetchone()
    assert row is not None
    return Stored(
        row[0], row[1], row[2], row[3], row[4], bytes(row[5]) if row[5] is not None else None
    )


def save(
    conn: psycopg.Connection,
    api_key_id: int,
    key: str,
    status: int,
    headers: dict[str, Any],
    body: bytes,
) -> None:
    conn.execute(SAVE, (status, Jsonb(headers), body, api_key_id, key))
