"""action_links: one-click links from mail, found by the sha256 of their token (the token
itself is only ever in the mail)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

ISSUE = """
INSERT INTO action_links (token_hash, notification_id, request_id, step_seq, person_id,
                          issued_for)
VALUES (%s, %s, %s, %s, %s, %s)
"""
FIND = """
SELECT token_hash, notification_id, request_id, step_seq, person_id, issued_for, created_at,
    used_at
FROM action_links WHERE token_hash = %s
"""
USE = "UPDATE action_links SET used_at = %s WHERE token_hash = %s AND used_at IS NULL"
REVISED_SINCE = """
SELECT EXISTS (SELECT 1 FROM asks WHERE request_id = %s AND kind = 'revision' AND created_at > %s)
"""


@dataclass(frozen=True, slots=True)
class Link:
    token_hash: str
    notification_id: int | None
    request_id: uuid.UUID
    step_seq: int
    person_id: str
    issued_for: datetime
    """The time of the event the mail announced: a revision after it retires the step."""
    created_at: datetime
    used_at: datetime | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    conn: psycopg.Connection,
    token: str,
    notification_id: int | None,
    request_id: uuid.UUID,
    step_seq: int,
    person_id: str,
    issued_for: datetime,
) -> None:
    conn.execute(
        ISSUE, (hash_token(token), notification_id, request_id, step_seq, person_id, issued_for)
    )


def find(conn: psycopg.Connection, token: str, *, lock: bool = False) -> Link | None:
    query = FIND + (" FOR UPDATE" if lock else "")
    with conn.cursor(row_factory=class_row(Link)) as cur:
        return cur.execute(query, (hash_token(token),)).fetchone()


def mark_used(conn: psycopg.Connection, link: Link, at: datetime) -> bool:
    return conn.execute(USE, (at, link.token_hash)).rowcount == 1


def revised_since(conn: psycopg.Connection, request_id: uuid.UUID, since: datetime) -> bool:
    row = conn.execute(REVISED_SINCE, (request_id, since)).fetchone()
    return bool(row and row[0])
