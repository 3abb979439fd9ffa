"""The people registry: who holds which tier, who manages whom, and delegations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    tier: str
    manager_id: str | None
    active: bool
    email: str | None
    delegate_id: str | None
    delegate_from: date | None
    delegate_to: date | None
    created_at: datetime
    updated_at: datetime

    def delegate_on(self, day: date) -> str | None:
        """The delegate who may act for this person on `day`, if any."""
        if self.delegate_id is None:
            return None
        if self.delegate_from is not None and day < self.delegate_from:
            return None
        if self.delegate_to is not None and day > self.delegate_to:
            return None
        return self.delegate_id


GET = """
SELECT
    id, name, tier, manager_id, active, email, delegate_id, delegate_from, delegate_to,
    created_at, updated_at
FROM people WHERE id = %s
"""
GET_MANY = """
SELECT
    id, name, tier, manager_id, active, email, delegate_id, delegate_from, delegate_to,
    created_at, updated_at
FROM people WHERE id = ANY(%s)
"""
PAGE = """
SELECT
    id, name, tier, manager_id, active, email, delegate_id, delegate_from, delegate_to,
    created_at, updated_at
FROM people WHERE id > %s ORDER BY id LIMIT %s
"""
BY_TIER = """
SELECT
    id, name, tier, manager_id, active, email, delegate_id, delegate_from, delegate_to,
    created_at, updated_at
FROM people WHERE tier = %s AND active ORDER BY id
"""
UPSERT = """
INSERT INTO people (id, name, tier, manager_id, active, email, delegate_id, delegate_from,
                    delegate_to)
VALUES (%(id)s, %(name)s, %(tier)s, %(manager_id)s, %(active)s, %(email)s, %(delegate_id)s,
        %(delegate_from)s, %(delegate_to)s)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, tier = EXCLUDED.tier, manager_id = EXCLUDED.manager_id,
    active = EXCLUDED.active, email = EXCLUDED.email, delegate_id = EXCLUDED.delegate_id,
    delegate_from = EXCLUDED.delegate_from, delegate_to = EXCLUDED.delegate_to, updated_at = now()
RETURNING
    id, name, tier, manager_id, active, email, delegate_id, delegate_from, delegate_to,
    created_at, updated_at, (xmax = 0) AS created
"""
CHAIN = """
WITH RECURSIVE chain AS (
    SELECT p.*, 1 AS depth FROM people p
     WHERE p.id = (SELECT manager_id FROM people WHERE id = %s)
    UNION ALL
    SELECT p.*, c.depth + 1 FROM people p JOIN chain c ON p.id = c.manager_id
     WHERE c.depth < 64
)
SELECT
    id, name, tier, manager_id, active, email, delegate_id, delegate_from, delegate_to,
    created_at, updated_at
FROM chain ORDER BY depth
"""


def get_person(conn: psycopg.Connection, person_id: str) -> Person | None:
    with conn.cursor(row_factory=class_row(Person)) as cur:
        return cur.execute(GET, (person_id,)).fetchone()


def get_people(conn: psycopg.Connection, ids: list[str]) -> dict[str, Person]:
    with conn.cursor(row_factory=class_row(Person)) as cur:
        return {p.id: p for p in cur.execute(GET_MANY, (ids,)).fetchall()}


def list_people(conn: psycopg.Connection, after: str, limit: int) -> list[Person]:
    with conn.cursor(row_factory=class_row(Person)) as cur:
        return cur.execute(PAGE, (after, limit)).fetchall()


def active_in_tier(conn: psycopg.Connection, tier: str) -> list[Person]:
    with conn.cursor(row_factory=class_row(Person)) as cur:
        return cur.execute(BY_TIER, (tier,)).fetchall()


def manager_chain(conn: psycopg.Connection, person_id: str) -> list[Person]:
    """The person's managers, nearest first (bounded, so a cycle cannot loop forever)."""
    with conn.cursor(row_factory=class_row(Person)) as cur:
        return cur.execute(CHAIN, (person_id,)).fetchall()


def upsert_person(conn: psycopg.Connection, fields: dict[str, Any]) -> tuple[Person, bool]:
    """Create or replace a person; returns (person, created)."""
    row = conn.execute(UPSERT, fields).fetchone()
    assert row is not None
    return Person(*row[:-1]), bool(row[-1])
