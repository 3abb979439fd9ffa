"""webhook_deliveries and webhook_attempts: claims with a lease, outcomes, and reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

CLAIM = """
WITH due AS (
    SELECT d.id FROM webhook_deliveries d
    JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.enabled
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND (d.lease_until IS NULL OR d.lease_until < now())
      AND NOT (d.subscription_id = ANY(%(busy)s))
    ORDER BY d.next_attempt_at, d.id
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET lease_until = clock_timestamp() + make_interval(secs => %(lease_s)s), lease_token = %(token)s
FROM due, webhook_events e, webhook_subscriptions s
WHERE d.id = due.id AND e.id = d.event_id AND s.id = d.subscription_id
RETURNING d.id, d.event_id, d.subscription_id, d.tries, d.lease_until, e.body, s.url,
    s.secret_enc, s.old_secret_enc, s.old_secret_until, d.next_attempt_at
"""
SETTLE = """
UPDATE webhook_deliveries SET status = %(status)s, tries = tries + 1,
    next_attempt_at = COALESCE(%(next_at)s, next_attempt_at), lease_until = NULL,
    lease_token = NULL, last_status_code = %(status_code)s, last_error = %(error)s,
    delivered_at = CASE WHEN %(status)s = 'delivered' THEN %(at)s ELSE delivered_at END
WHERE id = %(id)s AND lease_token = %(token)s
"""
RELEASE = """
UPDATE webhook_deliveries SET lease_until = NULL, lease_token = NULL
WHERE id = ANY(%s) AND lease_token = %s
"""
ATTEMPT = """
INSERT INTO webhook_attempts (delivery_id, at, status_code, duration_ms, error)
VALUES (%s, %s, %s, %s, %s)
"""
SUCCEEDED = """
UPDATE webhook_subscriptions SET last_success_at = %s, failing_since = NULL WHERE id = %s
"""
FAILED = """
UPDATE webhook_subscriptions SET failing_since = COALESCE(failing_since, %s) WHERE id = %s
RETURNING failing_since, enabled
"""
ROW = """
SELECT d.id, d.event_id, e.sequence, d.subscription_id, d.event_type, d.status, d.tries,
    (SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempt_count,
    d.next_attempt_at, d.created_at, d.delivered_at, d.last_status_code, d.last_error,
    d.lease_until
FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
"""
LIST = (
    ROW
    + """
WHERE d.id > %(after)s
  AND (%(subscription_id)s::bigint IS NULL OR d.subscription_id = %(subscription_id)s)
  AND (%(status)s::text IS NULL OR d.status = %(status)s)
  AND (%(event_type)s::text IS NULL OR d.event_type = %(event_type)s)
ORDER BY d.id LIMIT %(limit)s
"""
)
GET = ROW + " WHERE d.id = %s"
ATTEMPTS = """
SELECT at, status_code, duration_ms, error FROM webhook_attempts WHERE delivery_id = %s
ORDER BY id
"""
REDELIVER = """
UPDATE webhook_deliveries SET status = 'pending', tries = 0, next_attempt_at = %s,
    lease_until = NULL, lease_token = NULL
WHERE id = %s
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    event_id: str
    subscription_id: int
    tries: int
    lease_until: datetime
    body: str
    url: str
    secret_enc: bytes
    old_secret_enc: bytes | None
    old_secret_until: datetime | None
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: str
    sequence: int
    subscription_id: int
    event_type: str
    status: str
    tries: int
    attempt_count: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    lease_until: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None


def claim(
    conn: psycopg.Connection, limit: int, lease_s: float, busy: list[int]
) -> tuple[uuid.UUID, list[Claimed]]:
    token = uuid.uuid4()
    params = {"limit": limit, "lease_s": lease_s, "token": token, "busy": busy}
    with conn.cursor(row_factory=class_row(Claimed)) as cur:
        rows = cur.execute(CLAIM, params).fetchall()
    rows.sort(key=lambda r: (r.next_attempt_at, r.id))
    return token, rows


def settle(conn: psycopg.Connection, fields: dict[str, Any]) -> None:
    """Save an attempt's outcome (the delivery only while the lease is ours; the attempt
    always, since it was made). Pipeline-friendly: nothing is read back."""
    conn.execute(SETTLE, fields)
    conn.execute(
        ATTEMPT,
        (fields["id"], fields["at"], fields["status_code"], fields["duration_ms"], fields["error"]),
    )


def release(conn: psycopg.Connection, ids: list[int], token: uuid.UUID) -> None:
    conn.execute(RELEASE, (ids, token))


def note_success(conn: psycopg.Connection, subscription_id: int, at: datetime) -> None:
    conn.execute(SUCCEEDED, (at, subscription_id))


def note_failure(
    conn: psycopg.Connection, subscription_id: int, at: datetime
) -> tuple[datetime, bool] | None:
    row = conn.execute(FAILED, (at, subscription_id)).fetchone()
    return (row[0], row[1]) if row else None


def page(conn: psycopg.Connection, filters: dict[str, Any]) -> list[Delivery]:
    with conn.cursor(row_factory=class_row(Delivery)) as cur:
        return cur.execute(LIST, filters).fetchall()


def get(conn: psycopg.Connection, delivery_id: int) -> Delivery | None:
    with conn.cursor(row_factory=class_row(Delivery)) as cur:
        return cur.execute(GET, (delivery_id,)).fetchone()


def attempts(conn: psycopg.Connection, delivery_id: int) -> list[Attempt]:
    with conn.cursor(row_factory=class_row(Attempt)) as cur:
        return cur.execute(ATTEMPTS, (delivery_id,)).fetchall()


def redeliver(conn: psycopg.Connection, delivery_id: int, now: datetime) -> None:
    conn.execute(REDELIVER, (now, delivery_id))
