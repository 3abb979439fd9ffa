"""webhook_subscriptions: create, read, change, soft-delete, rotate; and delivery reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

INSERT = """
INSERT INTO webhook_subscriptions (url, event_types, description, secret_enc, created_at,
    updated_at)
VALUES (%s, %s, %s, %s, %s, %s)
RETURNING id, url, event_types, description, enabled, disabled_reason, secret_enc,
    old_secret_enc, old_secret_until, created_at, updated_at, last_success_at, failing_since
"""
GET = """
SELECT id, url, event_types, description, enabled, disabled_reason, secret_enc,
    old_secret_enc, old_secret_until, created_at, updated_at, last_success_at, failing_since
FROM webhook_subscriptions WHERE id = %s AND deleted_at IS NULL
"""
GET_FOR_UPDATE = GET + " FOR UPDATE"
LIST = """
SELECT id, url, event_types, description, enabled, disabled_reason, secret_enc,
    old_secret_enc, old_secret_until, created_at, updated_at, last_success_at, failing_since
FROM webhook_subscriptions WHERE deleted_at IS NULL AND id > %s
ORDER BY id LIMIT %s
"""
UPDATE = """
UPDATE webhook_subscriptions SET url = %(url)s, event_types = %(event_types)s,
    description = %(description)s, enabled = %(enabled)s,
    disabled_reason = CASE WHEN %(enabled)s THEN NULL ELSE %(disabled_reason)s END,
    failing_since = CASE WHEN %(enabled)s AND NOT enabled THEN NULL ELSE failing_since END,
    updated_at = %(now)s
WHERE id = %(id)s
RETURNING id, url, event_types, description, enabled, disabled_reason, secret_enc,
    old_secret_enc, old_secret_until, created_at, updated_at, last_success_at, failing_since
"""
ROTATE = """
UPDATE webhook_subscriptions SET old_secret_enc = secret_enc, old_secret_until = %s,
    secret_enc = %s, updated_at = %s
WHERE id = %s
RETURNING id, url, event_types, description, enabled, disabled_reason, secret_enc,
    old_secret_enc, old_secret_until, created_at, updated_at, last_success_at, failing_since
"""
DELETE = "UPDATE webhook_subscriptions SET deleted_at = %s, enabled = false WHERE id = %s"
DISABLE = """
UPDATE webhook_subscriptions SET enabled = false, disabled_reason = %s, updated_at = %s
WHERE id = %s AND enabled RETURNING id
"""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    secret_enc: bytes
    old_secret_enc: bytes | None
    old_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime
    last_success_at: datetime | None
    failing_since: datetime | None


def insert(
    conn: psycopg.Connection,
    url: str,
    event_types: list[str],
    description: str | None,
    secret_enc: bytes,
    now: datetime,
) -> Subscription:
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        row = cur.execute(INSERT, (url, event_types, description, secret_enc, now, now)).fetchone()
    assert row is not None
    return row


def get(conn: psycopg.Connection, sub_id: int, *, lock: bool = False) -> Subscription | None:
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(GET_FOR_UPDATE if lock else GET, (sub_id,)).fetchone()


def page(conn: psycopg.Connection, after: int, limit: int) -> list[Subscription]:
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(LIST, (after, limit)).fetchall()


def update(conn: psycopg.Connection, fields: dict[str, Any]) -> Subscription:
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        row = cur.execute(UPDATE, fields).fetchone()
    assert row is not None
    return row


def rotate(
    conn: psycopg.Connection, sub_id: int, secret_enc: bytes, old_until: datetime, now: datetime
) -> Subscription:
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        row = cur.execute(ROTATE, (old_until, secret_enc, now, sub_id)).fetchone()
    assert row is not None
    return row


def delete(conn: psycopg.Connection, sub_id: int, now: datetime) -> None:
    conn.execute(DELETE, (now, sub_id))


def disable(conn: psycopg.Connection, sub_id: int, reason: str, now: datetime) -> bool:
    """Disable an enabled subscription; False when it already was (so one audit event)."""
    return conn.execute(DISABLE, (reason, now, sub_id)).fetchone() is not None
