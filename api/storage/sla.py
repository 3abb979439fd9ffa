"""SQL of the SLA scan (DESIGN 14): claim the steps whose next stage is due, record a stage.

The claim reads only `approval_steps_sla_due_idx` (pending steps with a next stage), locks
the step and its request with SKIP LOCKED, so any number of dispatchers share the work and a
step is never handled twice at once; an approver's action, which locks the request first,
is never waited on (a busy request is simply left for the next pass).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from api.storage.requests import escalations_json
from api.workflow.states import Escalation

CLAIM = """
SELECT s.request_id, s.seq
FROM approval_steps s JOIN approval_requests r ON r.id = s.request_id
WHERE s.state = 'pending' AND s.sla_next_at IS NOT NULL AND s.sla_next_at <= %(now)s
ORDER BY s.sla_next_at
LIMIT %(limit)s
FOR UPDATE OF s, r SKIP LOCKED
"""
SAVE_STAGE = """
UPDATE approval_steps SET sla_stage = %(stage)s, sla_next_at = %(next_at)s,
    escalations = %(escalations)s
WHERE request_id = %(request_id)s AND seq = %(seq)s
"""
COUNT_OVERDUE = """
SELECT count(*) FROM approval_steps s JOIN approval_requests r
  ON r.id = s.request_id AND r.current_step = s.seq AND r.state = 'pending'
WHERE s.state = 'pending' AND s.due_at < %s
"""


def claim_due(conn: psycopg.Connection, now: datetime, limit: int) -> list[tuple[uuid.UUID, int]]:
    """Lock up to `limit` steps whose next stage is due (soonest first), for this transaction."""
    rows = conn.execute(CLAIM, {"now": now, "limit": limit}).fetchall()
    return [(row[0], int(row[1])) for row in rows]


def save_stage(
    conn: psycopg.Connection,
    request_id: uuid.UUID,
    seq: int,
    stage: int,
    next_at: datetime | None,
    escalations: Sequence[Escalation],
) -> None:
    conn.execute(
        SAVE_STAGE,
        {
            "request_id": request_id,
            "seq": seq,
            "stage": stage,
            "next_at": next_at,
            "escalations": Jsonb(escalations_json(escalations)),
        },
    )


def count_overdue(conn: psycopg.Connection, now: datetime) -> int:
    """Pending current steps past their due time (the overdue gauge)."""
    row = conn.execute(COUNT_OVERDUE, (now,)).fetchone()
    return int(row[0]) if row else 0
