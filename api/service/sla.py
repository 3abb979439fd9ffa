"""The SLA pass the dispatcher runs (DESIGN 14): reminders, overdue notices and escalations.

One pass is one transaction: it claims the due steps (SKIP LOCKED), fires each one's due
stages in order and saves how far it got, writing every stage's audit event and webhook
event in that same transaction. A stage is therefore recorded exactly once: a second
dispatcher cannot claim the step meanwhile, and a dispatcher killed mid-pass leaves nothing
behind, so the next pass fires the same stages once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import psycopg

from api.events.types import EventType
from api.policy.decision import iso_utc
from api.policy.model import Policy
from api.service.eligibility import attach
from api.service.resources import request_json
from api.storage import audit, outbox
from api.storage.people import manager_chain
from api.storage.requests import RequestRecord, get_request
from api.storage.sla import claim_due, save_stage
from api.storage.step_timings import mark
from api.workflow.machine import current_step
from api.workflow.routing import Candidate
from api.workflow.sla import OVERDUE, Stage, due_stages, next_manager, next_stage, stage_kind
from api.workflow.states import Escalation, Step

ACTOR = "system:sla"
BATCH = 20
"""Steps per pass (one transaction): each stage appends to the audit chain, whose lock the
pass then holds until it commits, so a backlog goes in short passes, not one long one."""
EVENT_OF = {
    Stage.REMINDER: EventType.STEP_REMINDER,
    Stage.OVERDUE: EventType.STEP_OVERDUE,
    Stage.ESCALATED: EventType.STEP_ESCALATED,
}


@dataclass(frozen=True, slots=True)
class Clock:
    """The moment of a pass and the business date (DEALDESK_TODAY when pinned)."""

    now: datetime
    today: date


def run_pass(
    conn: psycopg.Connection, policy: Policy, clock: Clock, limit: int = BATCH
) -> tuple[int, int]:
    """Fire every due stage of up to `limit` steps in the caller's transaction; how many
    steps were claimed and how many stages fired."""
    fired = 0
    claimed = claim_due(conn, clock.now, limit)
    for request_id, seq in claimed:
        record = get_request(conn, request_id)
        if record is not None:
            fired += _advance(conn, policy, clock, record, seq)
    return len(claimed), fired


def _advance(
    conn: psycopg.Connection, policy: Policy, clock: Clock, record: RequestRecord, seq: int
) -> int:
    step = record.steps[seq]
    if current_step(record.request_state, record.steps) != seq:  # no longer waiting: untime it
        save_stage(conn, record.id, seq, step.sla_stage, None, step.escalations)
        return 0
    stages = due_stages(policy.sla, step.assigned_at, step.due_at, step.sla_stage, clock.now)
    fired: list[tuple[int, RequestRecord]] = []
    for stage in stages:
        escalated = _escalate(conn, policy, record, step, clock) if stage > OVERDUE else step
        if escalated is None:  # the chain has ended: nothing more will happen
            break
        step = replace(escalated, sla_stage=stage + 1)
        record = _with_step(record, seq, step)
        if stage >= OVERDUE:
            mark(conn, record.id, seq, escalated=stage > OVERDUE)
        fired.append((stage, record))
    for index, (stage, _) in enumerate(fired):
        _announce(conn, policy, clock, _as_announced(fired, index), seq, stage)
    upcoming = next_stage(policy.sla, step.assigned_at, step.due_at, step.sla_stage)
    ended = len(fired) < len(stages)
    next_at = None if upcoming is None or ended else upcoming[1]
    save_stage(conn, record.id, seq, step.sla_stage, next_at, step.escalations)
    return len(fired)


def _as_announced(fired: list[tuple[int, RequestRecord]], index: int) -> RequestRecord:
    """The request as the stage's event shows it. The first escalation falls at `due_at`, the
    moment of the overdue notice, so the notice already lists that manager as eligible (and
    mails them their own link with everyone else's)."""
    stage, record = fired[index]
    if stage == OVERDUE and index + 1 < len(fired) and fired[index + 1][0] == OVERDUE + 1:
        return fired[index + 1][1]
    return record


def _escalate(
    conn: psycopg.Connection, policy: Policy, record: RequestRecord, step: Step, clock: Clock
) -> Step | None:
    """The step escalated to one manager higher; None when there is no one left."""
    if step.approver_id is None:
        return None
    chain = [Candidate(p.id, p.tier, p.active) for p in manager_chain(conn, step.approver_id)]
    manager = next_manager(
        policy,
        step.tier,
        chain,
        [e.person_id for e in step.escalations],
        {record.owner_id, record.requested_by, step.approver_id},
    )
    if manager is None:
        return None
    return replace(step, escalations=(*step.escalations, Escalation(manager.id, clock.now)))


def _with_step(record: RequestRecord, seq: int, step: Step) -> RequestRecord:
    return replace(record, steps=[*record.steps[:seq], step, *record.steps[seq + 1 :]])


def _announce(
    conn: psycopg.Connection,
    policy: Policy,
    clock: Clock,
    record: RequestRecord,
    seq: int,
    stage: int,
) -> None:
    kind = stage_kind(stage)
    step = record.steps[seq]
    payload: dict[str, Any] = {
        "request_id": str(record.id),
        "deal_id": record.deal_id,
        "step": {"seq": seq, "tier": step.tier, "approver_id": step.approver_id},
        "assigned_at": iso_utc(step.assigned_at) if step.assigned_at else None,
        "due_at": iso_utc(step.due_at) if step.due_at else None,
        "stage": stage,
    }
    if kind is Stage.ESCALATED:
        payload["escalated_to"] = step.escalations[-1].person_id
        payload["level"] = len(step.escalations)
    event = audit.append_event(
        conn, f"approval_step.{kind.value}", ACTOR, f"request:{record.id}", payload
    )
    shown = attach(conn, policy, clock.today, [record])[0]
    outbox.emit_for(conn, event, EVENT_OF[kind], request_json(shown))
