"""What the console shows the people in the loop: the steps a person may act on now (My
approvals) and an owner's open requests, returns and the overrides made around them (My deals).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import class_row

INBOX_LIMIT = 200

# Who may act on a step now, one branch each, as DESIGN 4 and 14 and the API's own check
# (api.workflow.machine.may_act_on) say: its approver; the approver's active delegate at or
# above the step's tier; every manager the SLA scan escalated it to (`escalations`,
# [{person_id, at}]). Someone in two branches is listed once, in the role the API's audit
# records (api.workflow.machine.acting_as): approver, then escalated manager, then delegate.
# Soonest due first; steps without a due time (no SLA) after them, oldest first.
MY_APPROVALS = """
WITH eligible AS (
    SELECT s.request_id, s.seq, 1 AS branch, 'approver' AS role, NULL::text AS on_behalf_of
    FROM approval_steps s
    WHERE s.state = 'pending' AND s.approver_id = %(person)s
    UNION ALL
    SELECT s.request_id, s.seq, 3, 'delegate', p.id
    FROM people p
    JOIN people d ON d.id = p.delegate_id
    JOIN approval_steps s ON s.approver_id = p.id AND s.state = 'pending'
    WHERE p.delegate_id = %(person)s AND d.active
      AND (p.delegate_from IS NULL OR p.delegate_from <= %(today)s)
      AND (p.delegate_to IS NULL OR p.delegate_to >= %(today)s)
      AND array_position(%(tiers)s::text[], d.tier)
          >= array_position(%(tiers)s::text[], s.tier)
    UNION ALL
    SELECT s.request_id, s.seq, 2, 'escalated', s.approver_id
    FROM approval_steps s
    WHERE s.state = 'pending' AND s.approver_id IS NOT NULL
      AND s.escalations <> '[]'
      AND s.escalations @> jsonb_build_array(jsonb_build_object('person_id', %(person)s::text))
), once AS (
    SELECT DISTINCT ON (request_id, seq) request_id, seq, role, on_behalf_of
    FROM eligible ORDER BY request_id, seq, branch
)
SELECT r.id, r.deal_id, r.owner_id, r.requested_by, r.created_at, r.updated_at,
       s.seq, s.tier, s.approver_id, e.role, e.on_behalf_of, s.assigned_at, s.due_at,
       r.deal ->> 'list_amount' AS list_amount, r.deal ->> 'currency' AS currency,
       r.deal -> 'account' ->> 'name' AS account, r.decision -> 'findings' AS findings
FROM once e
JOIN approval_requests r ON r.id = e.request_id AND r.current_step = e.seq AND r.state = 'pending'
JOIN approval_steps s ON s.request_id = e.request_id AND s.seq = e.seq
WHERE r.owner_id <> %(person)s AND r.requested_by <> %(person)s
ORDER BY s.due_at NULLS LAST, r.created_at, r.id
LIMIT %(limit)s
"""
# An owner's open requests, newest first, each with its current step (pending) or the step
# that returned it (returned) and that step's coaching comment.
MY_OPEN = """
SELECT r.id, r.deal_id, r.state, r.requested_by, r.created_at, r.updated_at, r.stuck_reason,
       r.deal ->> 'list_amount' AS list_amount, r.deal ->> 'currency' AS currency,
       r.deal -> 'account' ->> 'name' AS account, r.decision -> 'findings' AS findings,
       s.tier, s.approver_id, s.acted_by, s.acted_at, s.comment
FROM approval_requests r
LEFT JOIN LATERAL (
    SELECT tier, approver_id, acted_by, acted_at, comment FROM approval_steps
    WHERE request_id = r.id
      AND (CASE WHEN r.state = 'returned' THEN state = 'returned' ELSE seq = r.current_step END)
    ORDER BY acted_at DESC NULLS LAST LIMIT 1
) s ON true
WHERE r.owner_id = %(person)s AND r.state IN ('pending', 'returned', 'stuck')
ORDER BY r.created_at DESC, r.id DESC
LIMIT %(limit)s
"""
# Overrides made around the owner: those still to acknowledge first, newest first.
AROUND_ME = """
SELECT id, request_id, deal_id, executive_id, executive_tier, categories, excess_value, currency,
       reason_code, justification, created_at, owner_acknowledged, acknowledged_at
FROM overrides
WHERE owner_id = %(person)s AND categories @> ARRAY['bypassed_owner']::text[]
ORDER BY owner_acknowledged, seq DESC
LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class Waiting:
    """A step the person may act on now, with what its request asks."""

    id: uuid.UUID
    deal_id: str
    owner_id: str
    requested_by: str
    created_at: datetime
    updated_at: datetime
    seq: int
    tier: str
    approver_id: str | None
    role: str
    """approver, delegate (of `on_behalf_of`) or escalated (from `on_behalf_of`)."""
    on_behalf_of: str | None
    assigned_at: datetime | None
    due_at: datetime | None
    list_amount: str | None
    currency: str | None
    account: str | None
    findings: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class OpenRequest:
    id: uuid.UUID
    deal_id: str
    state: str
    requested_by: str
    created_at: datetime
    updated_at: datetime
    stuck_reason: str | None
    list_amount: str | None
    currency: str | None
    account: str | None
    findings: list[dict[str, Any]]
    tier: str | None
    approver_id: str | None
    acted_by: str | None
    acted_at: datetime | None
    comment: str | None


@dataclass(frozen=True, slots=True)
class AroundOwner:
    id: uuid.UUID
    request_id: uuid.UUID | None
    deal_id: str
    executive_id: str
    executive_tier: str
    categories: list[str]
    excess_value: Decimal
    currency: str
    reason_code: str
    justification: str
    created_at: datetime
    owner_acknowledged: bool
    acknowledged_at: datetime | None


def my_approvals(
    conn: psycopg.Connection,
    person_id: str,
    today: date,
    tiers: Sequence[str],
    limit: int = INBOX_LIMIT,
) -> list[Waiting]:
    params = {"person": person_id, "today": today, "tiers": list(tiers), "limit": limit}
    with conn.cursor(row_factory=class_row(Waiting)) as cur:
        return cur.execute(MY_APPROVALS, params).fetchall()


def my_open_requests(
    conn: psycopg.Connection, person_id: str, limit: int = INBOX_LIMIT
) -> list[OpenRequest]:
    with conn.cursor(row_factory=class_row(OpenRequest)) as cur:
        return cur.execute(MY_OPEN, {"person": person_id, "limit": limit}).fetchall()


def overrides_around(
    conn: psycopg.Connection, person_id: str, limit: int = INBOX_LIMIT
) -> list[AroundOwner]:
    with conn.cursor(row_factory=class_row(AroundOwner)) as cur:
        return cur.execute(AROUND_ME, {"person": person_id, "limit": limit}).fetchall()
