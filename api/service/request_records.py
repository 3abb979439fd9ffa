"""What every change to an approval request shares: finding it (locked when it will change),
checking the caller's If-Match, saving the new state and appending the audit event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg

from api.audit.chain import Event
from api.errors import NotFound, PreconditionFailed
from api.policy.engine import period_of
from api.service.context import Context
from api.service.eligibility import attach
from api.storage import audit
from api.storage.requests import RequestRecord, get_request, update_request, update_step
from api.storage.step_timings import open_timing
from api.workflow.machine import current_step
from api.workflow.sla import assign_current
from api.workflow.states import RequestState, Step


def find(conn: psycopg.Connection, request_id: uuid.UUID, *, lock: bool = False) -> RequestRecord:
    record = get_request(conn, request_id, lock=lock)
    if record is None:
        raise NotFound(f"No approval request {request_id}.")
    return record


def check_version(record: RequestRecord, if_match: int | None) -> None:
    """412 when the caller's If-Match names another version than the (locked) record's."""
    if if_match is not None and if_match != record.version:
        raise PreconditionFailed(
            f"The request is at version {record.version}, not {if_match}; reload it and retry."
        )


def save(
    conn: psycopg.Connection,
    ctx: Context,
    record: RequestRecord,
    state: RequestState,
    steps: Sequence[Step],
    deal: dict[str, Any],
    decision: dict[str, Any],
    stuck_reason: str | None,
    *,
    changed: int | None = None,
) -> RequestRecord:
    """Write the new state; only step `changed` (and the step it made current) when given,
    else every step. The saved record is built from what was written rather than read back."""
    steps = stamp(ctx, state, steps)
    note_assigned(conn, ctx, record.id, state, steps, restarted=changed is None)
    fields = {
        "id": record.id,
        "state": state.value,
        "deal": deal,
        "decision": decision,
        "policy_sha256": decision["policy"]["sha256"],
        "stuck_reason": stuck_reason,
        "current_step": current_step(state, steps),
        "now": ctx.now,
    }
    if changed is None:
        version, updated_at = update_request(conn, fields, steps)
    else:
        version, updated_at = update_request(conn, fields, None)
        update_step(conn, record.id, changed, steps[changed])
        now_current = fields["current_step"]
        if now_current is not None and now_current != changed:
            update_step(conn, record.id, now_current, steps[now_current])
    saved = replace(
        record,
        state=state.value,
        deal=deal,
        decision=decision,
        policy_sha256=fields["policy_sha256"],
        stuck_reason=stuck_reason,
        version=version,
        updated_at=updated_at,
        steps=list(steps),
    )
    return attach(conn, ctx.policy, ctx.today, [saved])[0]


def stamp(ctx: Context, state: RequestState, steps: Sequence[Step]) -> list[Step]:
    """Steps as they are saved: the newly current one stamped with its assigned and due
    times; none timed any more once the request is not pending."""
    if state is not RequestState.PENDING:
        return [replace(s, sla_next_at=None) if s.sla_next_at else s for s in steps]
    period = period_of(ctx.policy, ctx.today)
    return assign_current(ctx.policy.sla, state, steps, ctx.now, period)


def note_assigned(
    conn: psycopg.Connection,
    ctx: Context,
    request_id: uuid.UUID,
    state: RequestState,
    steps: Sequence[Step],
    *,
    restarted: bool,
) -> None:
    """Open the step timing of a step stamped just now (the approval-times report's record);
    `restarted` when the steps were rewritten (a revision), which supersedes open ones."""
    index = current_step(state, steps)
    if index is None or steps[index].assigned_at != ctx.now or steps[index].approver_id is None:
        return
    period_end = period_of(ctx.policy, ctx.today).is_period_end
    open_timing(conn, request_id, index, steps[index], period_end, supersede=restarted)


def event(
    conn: psycopg.Connection,
    ctx: Context,
    type_: str,
    actor: str,
    record: RequestRecord,
    before: RequestState | None,
    step_index: int | None,
    comment: str | None = None,
    **extra: Any,
) -> Event:
    step = record.steps[step_index] if step_index is not None else None
    payload: dict[str, Any] = {
        "request_id": str(record.id),
        "deal_id": record.deal_id,
        "before": before.value if before else None,
        "after": record.state,
        "version": record.version,
        "via_key": ctx.actor_key,
        **extra,
    }
    if step is not None:
        payload["step"] = {"seq": step_index, "tier": step.tier, "approver_id": step.approver_id}
    if comment is not None:
        payload["comment"] = comment
    return audit.append_event(conn, type_, actor, f"request:{record.id}", payload)
