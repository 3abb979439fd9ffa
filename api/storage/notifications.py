"""notifications: one row per event and recipient, written in the event's transaction and
claimed by dispatchers like webhook deliveries (SKIP LOCKED and a lease); and their reads."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from api.mail.recipients import Recipient, recipients
from api.mail.subjects import subject

FAN_OUT = """
WITH r AS (
    SELECT * FROM unnest(%(ids)s::text[], %(seqs)s::integer[], %(delegates)s::boolean[])
        WITH ORDINALITY AS r (person_id, step_seq, delegate, n)
), who AS (
    SELECT r.person_id, r.step_seq, r.n FROM r WHERE NOT r.delegate
    UNION ALL
    SELECT d.id, r.step_seq, r.n
    FROM r
    JOIN people a ON a.id = r.person_id
     AND (a.delegate_from IS NULL OR a.delegate_from <= %(day)s)
     AND (a.delegate_to IS NULL OR %(day)s <= a.delegate_to)
    JOIN people d ON d.id = a.delegate_id AND d.active
    WHERE r.delegate
), one AS (
    SELECT DISTINCT ON (person_id) person_id, step_seq, n FROM who ORDER BY person_id, n
), made AS (
    INSERT INTO notifications (event_id, event_type, person_id, email, subject, step_seq,
                               status, next_attempt_at, created_at)
    SELECT %(event_id)s, %(type)s, one.person_id, NULLIF(btrim(p.email), ''), %(subject)s,
        one.step_seq,
        CASE WHEN NULLIF(btrim(p.email), '') IS NULL THEN 'skipped' ELSE 'pending' END,
        %(at)s, %(at)s
    FROM one LEFT JOIN people p ON p.id = one.person_id
    ORDER BY one.n
    RETURNING status
)
SELECT pg_notify(%(channel)s, '')
FROM (SELECT 1 WHERE EXISTS (SELECT 1 FROM made WHERE status = 'pending')) AS any_mail
"""
CLAIM = """
WITH due AS (
    SELECT id FROM notifications
    WHERE status = 'pending' AND next_attempt_at <= now()
      AND (lease_until IS NULL OR lease_until < now())
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE notifications n
SET lease_until = clock_timestamp() + make_interval(secs => %(lease_s)s), lease_token = %(token)s
FROM due, webhook_events e
WHERE n.id = due.id AND e.id = n.event_id
RETURNING n.id, n.event_id, n.event_type, n.person_id, n.email, n.step_seq, n.tries,
    n.next_attempt_at, n.lease_until, e.created_at AS event_at, e.body,
    (SELECT name FROM people p WHERE p.id = n.person_id) AS name
"""
SETTLE = """
UPDATE notifications SET status = %(status)s, tries = tries + 1,
    next_attempt_at = COALESCE(%(next_at)s, next_attempt_at), lease_until = NULL,
    lease_token = NULL, last_error = %(error)s,
    sent_at = CASE WHEN %(status)s = 'sent' THEN %(at)s ELSE sent_at END
WHERE id = %(id)s AND lease_token = %(token)s
"""
RELEASE = """
UPDATE notifications SET lease_until = NULL, lease_token = NULL
WHERE id = ANY(%s) AND lease_token = %s
"""
LIST = """
SELECT id, person_id, email, event_type, event_id, subject, status, tries AS attempts,
    last_error, created_at, sent_at
FROM notifications
WHERE id > %(after)s
  AND (%(person_id)s::text IS NULL OR person_id = %(person_id)s)
  AND (%(event_type)s::text IS NULL OR event_type = %(event_type)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY id LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    event_id: str
    event_type: str
    person_id: str
    email: str
    step_seq: int | None
    tries: int
    next_attempt_at: datetime
    lease_until: datetime
    event_at: datetime
    body: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    person_id: str
    email: str | None
    event_type: str
    event_id: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def fan_out(
    conn: psycopg.Connection,
    event_id: str,
    event_type: str,
    at: datetime,
    subject: str,
    people: Sequence[Recipient],
    channel: str,
) -> None:
    """One row per recipient: `pending`, or `skipped` when the registry has no email."""
    conn.execute(
        FAN_OUT,
        {
            "ids": [r.person_id for r in people],
            "seqs": [r.step_seq for r in people],
            "delegates": [r.delegate for r in people],
            "day": at.date(),
            "event_id": event_id,
            "type": event_type,
            "subject": subject,
            "at": at,
            "channel": channel,
        },
    )


def mail_event(
    conn: psycopg.Connection,
    event_id: str,
    event_type: str,
    at: datetime,
    data: Mapping[str, Any],
    channel: str,
) -> None:
    """The event's notifications, in the caller's transaction (never commits); one statement,
    delegates and addresses resolved in it."""
    people = recipients(event_type, data)
    if people:
        fan_out(conn, event_id, event_type, at, subject(event_type, data, at), people, channel)


def claim(conn: psycopg.Connection, limit: int, lease_s: float) -> tuple[uuid.UUID, list[Claimed]]:
    token = uuid.uuid4()
    with conn.cursor(row_factory=class_row(Claimed)) as cur:
        rows = cur.execute(CLAIM, {"limit": limit, "lease_s": lease_s, "token": token}).fetchall()
    rows.sort(key=lambda r: (r.next_attempt_at, r.id))
    return token, rows


def settle(conn: psycopg.Connection, fields: Mapping[str, Any]) -> None:
    """Save an attempt's outcome, only while the lease is ours."""
    conn.execute(SETTLE, fields)


def release(conn: psycopg.Connection, ids: list[int], token: uuid.UUID) -> None:
    conn.execute(RELEASE, (ids, token))


def page(conn: psycopg.Connection, filters: Mapping[str, Any]) -> list[Notification]:
    with conn.cursor(row_factory=class_row(Notification)) as cur:
        return cur.execute(LIST, filters).fetchall()
