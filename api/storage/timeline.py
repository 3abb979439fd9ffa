"""A request's history as its console page shows it: every ask (submission and revision) with
its levers, the decision each got, the overrides linked to it and its audit events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import class_row

from api.audit.chain import Event

EVENTS_LIMIT = 500

ASKS = """
SELECT id, kind, requester_id, requester_tier, created_at, flags, close_date, slipped,
       fiscal_year, fiscal_quarter, days_to_quarter_end
FROM asks WHERE request_id = %s ORDER BY id
"""
ASK_LEVERS = "SELECT ask_id, lever, value, ceiling FROM ask_levers WHERE ask_id = ANY(%s)"
# Each ask's decision, as the decision log holds it: same deal, kind and time (both are
# written with the action's clock). A month archived out of the log leaves the ask's levers.
DECISIONS = """
SELECT kind, created_at, output FROM decisions
WHERE created_at = ANY(%s) AND deal_id = %s AND kind IN ('submission', 'revision')
"""
LINKED_OVERRIDES = """
SELECT id, executive_id, executive_tier, categories, excess_value, currency, reason_code,
       created_at, owner_acknowledged, review_status
FROM overrides WHERE request_id = %s ORDER BY seq
"""
EVENTS = """
SELECT id, at, type, actor, subject, payload, prev_hash, hash FROM audit_events
WHERE subject = ANY(%s) ORDER BY id LIMIT %s
"""


@dataclass(frozen=True, slots=True)
class Ask:
    id: int
    kind: str
    requester_id: str
    requester_tier: str
    created_at: datetime
    flags: list[str]
    close_date: date | None
    slipped: bool
    fiscal_year: int
    fiscal_quarter: int
    days_to_quarter_end: int
    levers: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    """lever -> (value asked, the requester's own ceiling under the rules that matched)."""
    decision: dict[str, Any] | None = None
    """The decision it got, while the decision log still holds it."""


@dataclass(frozen=True, slots=True)
class LinkedOverride:
    id: uuid.UUID
    executive_id: str
    executive_tier: str
    categories: list[str]
    excess_value: Decimal
    currency: str
    reason_code: str
    created_at: datetime
    owner_acknowledged: bool
    review_status: str


def asks_of(conn: psycopg.Connection, request_id: uuid.UUID, deal_id: str) -> list[Ask]:
    with conn.cursor(row_factory=class_row(Ask)) as cur:
        asks = cur.execute(ASKS, (request_id,)).fetchall()
    if not asks:
        return asks
    for ask_id, lever, value, ceiling in conn.execute(ASK_LEVERS, ([a.id for a in asks],)):
        next(a for a in asks if a.id == ask_id).levers[lever] = (value, ceiling)
    found = {
        (kind, at): output
        for kind, at, output in conn.execute(DECISIONS, ([a.created_at for a in asks], deal_id))
    }
    return [replace(a, decision=found.get((a.kind, a.created_at))) for a in asks]


def linked_overrides(conn: psycopg.Connection, request_id: uuid.UUID) -> list[LinkedOverride]:
    with conn.cursor(row_factory=class_row(LinkedOverride)) as cur:
        return cur.execute(LINKED_OVERRIDES, (request_id,)).fetchall()


def events_about(
    conn: psycopg.Connection, subjects: Sequence[str], limit: int = EVENTS_LIMIT
) -> list[Event]:
    """Audit events whose subject is one of `subjects`, oldest first."""
    with conn.cursor(row_factory=class_row(Event)) as cur:
        return cur.execute(EVENTS, (list(subjects), limit)).fetchall()
