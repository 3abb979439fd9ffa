"""What the reports read, written when it happens: asks, step actions and withdrawals."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

INSERT_ASK = """
WITH ask AS (
    INSERT INTO asks (request_id, deal_id, kind, owner_id, requester_id, requester_tier,
        business_date, created_at, created_on, close_date, close_fiscal_year,
        close_fiscal_quarter, slipped, fiscal_year, fiscal_quarter, days_to_quarter_end, flags)
    VALUES (%(request_id)s, %(deal_id)s, %(kind)s, %(owner_id)s, %(requester_id)s,
        %(requester_tier)s, %(business_date)s, %(created_at)s,
        (%(created_at)s AT TIME ZONE 'UTC')::date, %(close_date)s, %(close_fiscal_year)s,
        %(close_fiscal_quarter)s, %(slipped)s, %(fiscal_year)s, %(fiscal_quarter)s,
        %(days_to_quarter_end)s, %(flags)s)
    RETURNING id, created_on
)
INSERT INTO ask_levers (ask_id, lever, value, ceiling, kind, created_on, owner_id,
    requester_tier, fiscal_year, fiscal_quarter, days_to_quarter_end)
SELECT ask.id, l.lever, l.value, l.ceiling, %(kind)s, ask.created_on, %(owner_id)s,
    %(requester_tier)s, %(fiscal_year)s, %(fiscal_quarter)s, %(days_to_quarter_end)s
FROM ask, unnest(%(levers)s::text[], %(values)s::numeric[], %(ceilings)s::numeric[])
    AS l(lever, value, ceiling)
"""
INSERT_ACTION = """
INSERT INTO step_actions (request_id, seq, tier, actor_id, action, acted_at, acted_on)
VALUES (%s, %s, %s, %s, %s, %s, (%s AT TIME ZONE 'UTC')::date)
"""
INSERT_WITHDRAWAL = """
INSERT INTO withdrawals (request_id, deal_id, owner_id, reason_code, business_date,
    withdrawn_at, withdrawn_on, asked)
VALUES (%(request_id)s, %(deal_id)s, %(owner_id)s, %(reason_code)s, %(business_date)s,
    %(withdrawn_at)s, (%(withdrawn_at)s AT TIME ZONE 'UTC')::date, %(asked)s)
"""
LATEST_DECLINE = """
SELECT request_id, business_date, asked FROM withdrawals
WHERE reason_code = 'customer_declined' AND deal_id = %(deal_id)s
  AND business_date >= %(since)s AND business_date <= %(until)s
  AND (%(before)s::timestamptz IS NULL OR withdrawn_at < %(before)s)
ORDER BY business_date DESC, withdrawn_at DESC
LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class Decline:
    """A customer_declined withdrawal: when (business date) and what the request asked."""

    request_id: uuid.UUID
    business_date: date
    asked: dict[str, Any]

    def values(self) -> dict[str, Decimal | None]:
        return {k: (Decimal(v) if v is not None else None) for k, v in self.asked.items()}


def insert_ask(
    conn: psycopg.Connection,
    fields: dict[str, Any],
    levers: list[tuple[str, Decimal, Decimal]],
) -> None:
    """One ask and its levers' values and ceilings, in one statement."""
    row = {
        **fields,
        "levers": [name for name, _, _ in levers],
        "values": [value for _, value, _ in levers],
        "ceilings": [ceiling for _, _, ceiling in levers],
    }
    conn.execute(INSERT_ASK, row)


def insert_action(
    conn: psycopg.Connection,
    request_id: uuid.UUID,
    seq: int,
    tier: str,
    actor_id: str,
    action: str,
    at: datetime,
) -> None:
    conn.execute(INSERT_ACTION, (request_id, seq, tier, actor_id, action, at, at))


def insert_withdrawal(conn: psycopg.Connection, fields: dict[str, Any]) -> None:
    conn.execute(INSERT_WITHDRAWAL, {**fields, "asked": Jsonb(fields["asked"])})


def latest_decline(
    conn: psycopg.Connection,
    deal_id: str,
    since: date,
    until: date,
    before: datetime | None = None,
) -> Decline | None:
    """The latest customer_declined withdrawal of a deal with a business date in
    [since, until] (and, when given, withdrawn before `before`)."""
    params = {"deal_id": deal_id, "since": since, "until": until, "before": before}
    with conn.cursor(row_factory=class_row(Decline)) as cur:
        return cur.execute(LATEST_DECLINE, params).fetchone()
