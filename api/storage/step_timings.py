"""step_timings: one row each time a step becomes current, closed when it is acted on; what
the approval-times report reads (a revision replaces approval_steps rows, never these)."""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg

from api.workflow.states import Step

SUPERSEDE = """
UPDATE step_timings SET superseded = true
WHERE request_id = %s AND acted_at IS NULL AND NOT superseded
"""
OPEN = """
INSERT INTO step_timings (request_id, seq, tier, approver_id, assigned_at, assigned_on,
    period_end, due_at)
VALUES (%(request_id)s, %(seq)s, %(tier)s, %(approver_id)s, %(assigned_at)s,
    (%(assigned_at)s AT TIME ZONE 'UTC')::date, %(period_end)s, %(due_at)s)
"""
CLOSE = """
UPDATE step_timings SET acted_at = %(at)s, acted_by = %(by)s,
    waited_us = (extract(epoch FROM %(at)s - assigned_at) * 1000000)::bigint,
    overdue = overdue OR (due_at IS NOT NULL AND %(at)s > due_at)
WHERE request_id = %(request_id)s AND seq = %(seq)s AND acted_at IS NULL AND NOT superseded
"""
MARK_OVERDUE = """
UPDATE step_timings SET overdue = true
WHERE request_id = %s AND seq = %s AND acted_at IS NULL AND NOT superseded
"""
MARK_ESCALATED = """
UPDATE step_timings SET escalated = true
WHERE request_id = %s AND seq = %s AND acted_at IS NULL AND NOT superseded
"""


def open_timing(
    conn: psycopg.Connection,
    request_id: uuid.UUID,
    seq: int,
    step: Step,
    period_end: bool,
    *,
    supersede: bool,
) -> None:
    """A step has just become current; with `supersede` (a revision restarted the steps)
    any earlier open timing of the request is closed as superseded first."""
    if supersede:
        conn.execute(SUPERSEDE, (request_id,))
    conn.execute(
        OPEN,
        {
            "request_id": request_id,
            "seq": seq,
            "tier": step.tier,
            "approver_id": step.approver_id,
            "assigned_at": step.assigned_at,
            "period_end": period_end,
            "due_at": step.due_at,
        },
    )


def close_timing(
    conn: psycopg.Connection, request_id: uuid.UUID, seq: int, at: datetime, by: str
) -> None:
    conn.execute(CLOSE, {"request_id": request_id, "seq": seq, "at": at, "by": by})


def mark(conn: psycopg.Connection, request_id: uuid.UUID, seq: int, *, escalated: bool) -> None:
    """The step's overdue notice fired (or, with `escalated`, it was escalated)."""
    conn.execute(MARK_ESCALATED if escalated else MARK_OVERDUE, (request_id, seq))
