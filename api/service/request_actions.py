"""Actions on a submitted approval request: approve, reject or return a step, and withdraw.

Each runs after a row lock on the request, checks If-Match, and appends its audit event in the
caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import psycopg

from api.errors import Conflict, Forbidden
from api.service import history
from api.service import request_records as records
from api.service.announce import request_changed
from api.service.context import Context
from api.service.parties import check_acting_as
from api.storage.people import Person, get_people
from api.storage.requests import RequestRecord
from api.storage.step_timings import close_timing
from api.workflow.machine import Approver, act, acting_as, current_step
from api.workflow.states import FINAL_STATES, Action, RequestState, Step


def act_on(
    conn: psycopg.Connection,
    ctx: Context,
    record: RequestRecord,
    action: Action,
    approver_id: str,
    comment: str | None,
    if_match: int | None,
    *,
    via: str | None = None,
) -> RequestRecord:
    """`via`: how the person acted, when not by the API (`email_link`), kept in the event."""
    records.check_version(record, if_match)
    approvers = _approvers(conn, ctx, record.steps)
    before = record.request_state
    if current_step(before, record.steps) is not None:  # no pending step: 409, whoever asks
        check_acting_as(ctx.person_id, approver_id, "approver_id")
    state, steps, index = act(
        ctx.policy,
        before,
        record.steps,
        action,
        approver_id,
        approvers,
        owner_id=record.owner_id,
        requester_id=record.requested_by,
        comment=comment,
        at=ctx.now,
    )
    updated = records.save(
        conn, ctx, record, state, steps, record.deal, record.decision, None, changed=index
    )
    history.record_action(conn, ctx, updated, index, action.value)
    close_timing(conn, record.id, index, ctx.now, approver_id)
    extra = {"via": via} if via is not None else {}
    event = records.event(
        conn,
        ctx,
        f"request.{action.value}",
        approver_id,
        updated,
        before,
        index,
        comment,
        acted_as=acting_as(record.steps[index], approver_id),
        **extra,
    )
    request_changed(conn, event, updated)
    return updated


def withdraw(
    conn: psycopg.Connection,
    ctx: Context,
    record: RequestRecord,
    requested_by: str,
    reason: str,
    if_match: int | None,
    reason_code: str | None = None,
) -> RequestRecord:
    records.check_version(record, if_match)
    people = get_people(conn, [record.owner_id])
    owner = people[record.owner_id]
    check_acting_as(ctx.person_id, requested_by, "requested_by")
    if requested_by not in (owner.id, _active_delegate(conn, owner, ctx.today)):
        raise Forbidden("Only the deal's owner (or their active delegate) may withdraw it.")
    before = record.request_state
    if before in FINAL_STATES:
        raise Conflict(f"The request is already {before.value}.")
    updated = records.save(
        conn, ctx, record, RequestState.WITHDRAWN, record.steps, record.deal, record.decision, None
    )
    history.record_withdrawal(conn, ctx, updated, reason_code)
    event = records.event(
        conn,
        ctx,
        "request.withdrawn",
        requested_by,
        updated,
        before,
        None,
        reason,
        reason_code=reason_code,
    )
    request_changed(conn, event, updated)
    return updated


def _approvers(
    conn: psycopg.Connection, ctx: Context, steps: Sequence[Step]
) -> dict[str, Approver]:
    ids = sorted({s.approver_id for s in steps if s.approver_id})
    people = get_people(conn, ids)
    delegate_ids = [d for p in people.values() if (d := p.delegate_on(ctx.today))]
    delegates = get_people(conn, delegate_ids) if delegate_ids else {}
    approvers = {}
    for person in people.values():
        delegate = delegates.get(person.delegate_on(ctx.today) or "")
        approvers[person.id] = Approver(
            person.id,
            delegate.id if delegate else None,
            delegate.tier if delegate else None,
            bool(delegate and delegate.active),
        )
    return approvers


def _active_delegate(conn: psycopg.Connection, person: Person, today: date) -> str | None:
    delegate_id = person.delegate_on(today)
    if delegate_id is None:
        return None
    delegate = get_people(conn, [delegate_id]).get(delegate_id)
    return delegate_id if delegate and delegate.active else None
