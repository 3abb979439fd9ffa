"""approval_requests and their approval_steps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from api.errors import Conflict
from api.workflow.states import Escalation, RequestState, Step, StepState

INSERT = """
INSERT INTO approval_requests (id, deal_id, state, owner_id, requested_by, deal, decision,
    policy_sha256, stuck_reason, reason_code, justification, current_step, created_at, updated_at)
VALUES (%(id)s, %(deal_id)s, %(state)s, %(owner_id)s, %(requested_by)s, %(deal)s, %(decision)s,
    %(policy_sha256)s, %(stuck_reason)s, %(reason_code)s, %(justification)s, %(current_step)s,
    %(now)s, %(now)s)
"""
UPDATE = """
UPDATE approval_requests SET state = %(state)s, deal = %(deal)s, decision = %(decision)s,
    policy_sha256 = %(policy_sha256)s, stuck_reason = %(stuck_reason)s,
    current_step = %(current_step)s, version = version + 1, updated_at = %(now)s
WHERE id = %(id)s
RETURNING version, updated_at
"""
GET = """
SELECT
    id, deal_id, state, owner_id, requested_by, deal, decision, policy_sha256, stuck_reason,
    reason_code, justification, version, created_at, updated_at
FROM approval_requests WHERE id = %s
"""
GET_FOR_UPDATE = GET + " FOR UPDATE"
STEPS = """
SELECT request_id, seq, tier, approver_id, state, acted_by, acted_at, comment, assigned_at,
    due_at, escalations, sla_stage, sla_next_at
FROM approval_steps
WHERE request_id = ANY(%s) ORDER BY request_id, seq
"""
DELETE_STEPS = "DELETE FROM approval_steps WHERE request_id = %s"
UPDATE_STEP = """
UPDATE approval_steps SET state = %(state)s, acted_by = %(acted_by)s, acted_at = %(acted_at)s,
    comment = %(comment)s, assigned_at = %(assigned_at)s, due_at = %(due_at)s,
    escalations = %(escalations)s, sla_stage = %(sla_stage)s, sla_next_at = %(sla_next_at)s
WHERE request_id = %(request_id)s AND seq = %(seq)s
"""
INSERT_STEP = """
INSERT INTO approval_steps (request_id, seq, tier, approver_id, state, acted_by, acted_at, comment,
    assigned_at, due_at, escalations, sla_stage, sla_next_at)
VALUES (%(request_id)s, %(seq)s, %(tier)s, %(approver_id)s, %(state)s, %(acted_by)s,
    %(acted_at)s, %(comment)s, %(assigned_at)s, %(due_at)s, %(escalations)s, %(sla_stage)s,
    %(sla_next_at)s)
"""
LIST = """
SELECT
    id, deal_id, state, owner_id, requested_by, deal, decision, policy_sha256, stuck_reason,
    reason_code, justification, version, created_at, updated_at
FROM approval_requests r
WHERE (%(deal_id)s::text IS NULL OR r.deal_id = %(deal_id)s)
  AND (%(state)s::text IS NULL OR r.state = %(state)s)
  AND (%(owner_id)s::text IS NULL OR r.owner_id = %(owner_id)s)
  AND (%(after_at)s::timestamptz IS NULL
       OR (r.created_at, r.id) > (%(after_at)s, %(after_id)s::uuid))
  AND (%(approver_id)s::text IS NULL OR (
        r.state = 'pending' AND r.owner_id <> %(approver_id)s AND r.requested_by <> %(approver_id)s
        AND EXISTS (
          SELECT 1 FROM approval_steps s
          LEFT JOIN people p ON p.id = s.approver_id
          LEFT JOIN people d ON d.id = p.delegate_id
          WHERE s.request_id = r.id AND s.seq = r.current_step AND (
            s.approver_id = %(approver_id)s
            OR s.escalations @> jsonb_build_array(jsonb_build_object('person_id', %(approver_id)s))
            OR (
              p.delegate_id = %(approver_id)s AND d.active
              AND (p.delegate_from IS NULL OR p.delegate_from <= %(today)s)
              AND (p.delegate_to IS NULL OR p.delegate_to >= %(today)s)
              AND array_position(%(tiers)s::text[], d.tier)
                  >= array_position(%(tiers)s::text[], s.tier))))))
ORDER BY r.created_at, r.id
LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    id: uuid.UUID
    deal_id: str
    state: str
    owner_id: str
    requested_by: str
    deal: dict[str, Any]
    decision: dict[str, Any]
    policy_sha256: str
    stuck_reason: str | None
    reason_code: str | None
    justification: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    steps: list[Step] = field(default_factory=list)

    @property
    def request_state(self) -> RequestState:
        return RequestState(self.state)


def _is_open_deal_conflict(exc: psycopg.errors.UniqueViolation) -> bool:
    return exc.diag.constraint_name == "approval_requests_open_deal_idx"


def insert_request(conn: psycopg.Connection, fields: dict[str, Any], steps: Sequence[Step]) -> None:
    """Insert a request and its steps; a second open request for the deal is a Conflict."""
    row = {**fields, "deal": Jsonb(fields["deal"]), "decision": Jsonb(fields["decision"])}
    try:  # no savepoint: a conflict aborts the whole transaction, as it should
        conn.execute(INSERT, row)
    except psycopg.errors.UniqueViolation as exc:
        if _is_open_deal_conflict(exc):
            raise Conflict(
                f"Deal {fields['deal_id']!r} already has an open approval request."
            ) from None
        raise
    _write_steps(conn, fields["id"], steps)


def update_request(
    conn: psycopg.Connection, fields: dict[str, Any], steps: Sequence[Step] | None
) -> tuple[int, datetime]:
    """Save a new state (and steps, when given); returns the new version and updated_at."""
    row = {**fields, "deal": Jsonb(fields["deal"]), "decision": Jsonb(fields["decision"])}
    try:
        result = conn.execute(UPDATE, row).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        if _is_open_deal_conflict(exc):
            raise Conflict("The deal already has another open approval request.") from None
        raise
    assert result is not None
    if steps is not None:
        conn.execute(DELETE_STEPS, (fields["id"],))
        _write_steps(conn, fields["id"], steps)
    return int(result[0]), result[1]


def update_step(conn: psycopg.Connection, request_id: uuid.UUID, seq: int, step: Step) -> None:
    conn.execute(UPDATE_STEP, _step_row(request_id, seq, step))


def _step_row(request_id: uuid.UUID, seq: int, step: Step) -> dict[str, Any]:
    pending = step.state is StepState.PENDING
    return {
        "request_id": request_id,
        "seq": seq,
        "tier": step.tier,
        "approver_id": step.approver_id,
        "state": step.state.value,
        "acted_by": step.acted_by,
        "acted_at": step.acted_at,
        "comment": step.comment,
        "assigned_at": step.assigned_at,
        "due_at": step.due_at,
        "escalations": Jsonb(escalations_json(step.escalations)),
        "sla_stage": step.sla_stage,
        "sla_next_at": step.sla_next_at if pending else None,
    }


def escalations_json(escalations: Sequence[Escalation]) -> list[dict[str, str]]:
    return [{"person_id": e.person_id, "at": e.at.isoformat()} for e in escalations]


def _escalations(value: list[dict[str, str]]) -> tuple[Escalation, ...]:
    return tuple(Escalation(e["person_id"], datetime.fromisoformat(e["at"])) for e in value)


def _write_steps(conn: psycopg.Connection, request_id: uuid.UUID, steps: Sequence[Step]) -> None:
    with conn.cursor() as cur:
        cur.executemany(INSERT_STEP, [_step_row(request_id, seq, s) for seq, s in enumerate(steps)])


def get_request(
    conn: psycopg.Connection, request_id: uuid.UUID, *, lock: bool = False
) -> RequestRecord | None:
    """One request with its steps; `lock` takes a row lock so concurrent actions serialise."""
    with conn.cursor(row_factory=class_row(RequestRecord)) as cur:
        record = cur.execute(GET_FOR_UPDATE if lock else GET, (request_id,)).fetchone()
    if record is None:
        return None
    return _with_steps(conn, [record])[0]


def list_requests(
    conn: psycopg.Connection,
    filters: dict[str, Any],
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    *,
    today: date,
    tiers: Sequence[str],
) -> list[RequestRecord]:
    params = {
        "deal_id": filters.get("deal_id"),
        "state": filters.get("state"),
        "owner_id": filters.get("owner_id"),
        "approver_id": filters.get("approver_id"),
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
        "today": today,
        "tiers": list(tiers),
        "limit": limit,
    }
    with conn.cursor(row_factory=class_row(RequestRecord)) as cur:
        records = cur.execute(LIST, params).fetchall()
    return _with_steps(conn, records)


def _with_steps(conn: psycopg.Connection, records: list[RequestRecord]) -> list[RequestRecord]:
    if not records:
        return records
    by_id: dict[uuid.UUID, list[Step]] = {r.id: [] for r in records}
    for row in conn.execute(STEPS, ([r.id for r in records],)).fetchall():
        by_id[row[0]].append(
            Step(
                row[2],
                row[3],
                StepState(row[4]),
                row[5],
                row[6],
                row[7],
                assigned_at=row[8],
                due_at=row[9],
                escalations=_escalations(row[10]),
                sla_stage=row[11],
                sla_next_at=row[12],
            )
        )
    return [_replace_steps(r, by_id[r.id]) for r in records]


def _replace_steps(record: RequestRecord, steps: list[Step]) -> RequestRecord:
    from dataclasses import replace

    return replace(record, steps=steps)
