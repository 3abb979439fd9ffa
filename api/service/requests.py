"""Approval requests: submit, approve/reject/return, revise and withdraw.

Every change appends its audit event (actor, before and after state, step) in the caller's
transaction, after a row lock on the request, so racing actions serialise in the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from api.audit.chain import Event
from api.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from api.policy.deal import restore
from api.policy.decimals import jsonable
from api.policy.decision import Decision
from api.policy.engine import Assessment, assess
from api.policy.model import Routing
from api.service import history, overrides
from api.service.announce import request_changed
from api.service.context import Context
from api.service.evaluations import check_currency
from api.service.parties import Parties, check_acting_as, in_database, resolve_parties
from api.service.shadow import shadow_results
from api.storage import audit
from api.storage.decisions import log_decision
from api.storage.people import Person, active_in_tier, get_people, manager_chain
from api.storage.requests import (
    RequestRecord,
    get_request,
    insert_request,
    update_request,
    update_step,
)
from api.workflow.machine import Approver, act, carry_over, current_step, settle, went_up
from api.workflow.overrides import lever_terms
from api.workflow.routing import Candidate, assign, step_tiers
from api.workflow.states import FINAL_STATES, Action, RequestState, Step


def find(conn: psycopg.Connection, request_id: uuid.UUID, *, lock: bool = False) -> RequestRecord:
    record = get_request(conn, request_id, lock=lock)
    if record is None:
        raise NotFound(f"No approval request {request_id}.")
    return record


def submit(
    conn: psycopg.Connection,
    ctx: Context,
    deal: Mapping[str, Any],
    requested_by: str,
    reason_code: str | None,
    justification: str | None,
) -> RequestRecord:
    check_currency(ctx.policy, deal)
    parties = resolve_parties(
        in_database(conn), ctx.policy, deal["owner_id"], requested_by, ctx.today
    )
    if not parties.acting_for_owner:
        overrides.check_bypass_allowed(
            ctx.policy, parties.requester_party(), ctx.may_override, reason_code, justification
        )
    check_acting_as(ctx.person_id, requested_by, "requested_by")
    assessment, output, stored_deal = _decide(conn, ctx, deal, parties, "submission")
    decision = assessment.decision
    steps = _route(conn, ctx, decision, parties)
    state, stuck_reason = settle(decision.outcome, steps)
    request_id = uuid.uuid4()
    fields = {
        "id": request_id,
        "deal_id": deal["deal_id"],
        "state": state.value,
        "owner_id": parties.owner.id,
        "requested_by": parties.requester.id,
        "deal": stored_deal,
        "decision": output,
        "policy_sha256": decision.policy.sha256,
        "stuck_reason": stuck_reason,
        "reason_code": reason_code,
        "justification": justification,
        "current_step": current_step(state, steps),
        "now": ctx.now,
    }
    insert_request(conn, fields, steps)
    record = RequestRecord(
        request_id,
        fields["deal_id"],
        state.value,
        parties.owner.id,
        parties.requester.id,
        stored_deal,
        output,
        decision.policy.sha256,
        stuck_reason,
        reason_code,
        justification,
        version=1,
        created_at=ctx.now,
        updated_at=ctx.now,
        steps=list(steps),
    )
    history.record_ask(conn, ctx, record, "submission")
    event = _event(conn, ctx, "request.submitted", parties.requester.id, record, None, None)
    request_changed(conn, event, record, submitted=True)
    if not parties.acting_for_owner:
        nothing = {lever.name: None for lever in ctx.policy.deal_levers}
        overrides.bypass(
            conn, ctx, record, assessment, nothing, str(reason_code), str(justification), deal
        )
    return record


def act_on(
    conn: psycopg.Connection,
    ctx: Context,
    record: RequestRecord,
    action: Action,
    approver_id: str,
    comment: str | None,
    if_match: int | None,
) -> RequestRecord:
    _check_version(record, if_match)
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
    updated = _save(
        conn, ctx, record, state, steps, record.deal, record.decision, None, changed=index
    )
    history.record_action(conn, ctx, updated, index, action.value)
    event = _event(
        conn, ctx, f"request.{action.value}", approver_id, updated, before, index, comment
    )
    request_changed(conn, event, updated)
    return updated


def revise(
    conn: psycopg.Connection,
    ctx: Context,
    record: RequestRecord,
    requested_by: str,
    deal: Mapping[str, Any],
    reason_code: str | None,
    justification: str | None,
    if_match: int | None,
) -> RequestRecord:
    _check_version(record, if_match)
    _same_deal(record, deal)
    check_currency(ctx.policy, deal)
    parties = resolve_parties(
        in_database(conn), ctx.policy, record.owner_id, requested_by, ctx.today
    )
    if not parties.acting_for_owner:
        overrides.check_bypass_allowed(
            ctx.policy, parties.requester_party(), ctx.may_override, reason_code, justification
        )
    check_acting_as(ctx.person_id, requested_by, "requested_by")
    before = record.request_state
    if before in FINAL_STATES:
        raise Conflict(f"The request is {before.value}; it can no longer be revised.")
    assessment, output, stored_deal = _decide(conn, ctx, deal, parties, "revision", record)
    decision = assessment.decision
    fresh = _route(conn, ctx, decision, parties)
    old_tiers = {s.tier for s in record.steps}
    keep = (
        not went_up(_lever_values(record.decision), _lever_values(output))
        and {s.tier for s in fresh} <= old_tiers
    )
    steps = carry_over(record.steps, fresh, keep_approvals=keep)
    state, stuck_reason = settle(decision.outcome, steps)
    updated = _save(conn, ctx, record, state, steps, stored_deal, output, stuck_reason)
    history.record_ask(conn, ctx, updated, "revision", record.deal)
    event = _event(
        conn, ctx, "request.revised", requested_by, updated, before, None, None, kept=keep
    )
    request_changed(conn, event, updated)
    if not parties.acting_for_owner:
        asked = lever_terms(ctx.policy, restore(record.deal, ctx.policy.lever_names))
        overrides.bypass(
            conn, ctx, updated, assessment, asked, str(reason_code), str(justification), deal
        )
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
    _check_version(record, if_match)
    people = get_people(conn, [record.owner_id])
    owner = people[record.owner_id]
    check_acting_as(ctx.person_id, requested_by, "requested_by")
    if requested_by not in (owner.id, _active_delegate(conn, owner, ctx.today)):
        raise Forbidden("Only the deal's owner (or their active delegate) may withdraw it.")
    before = record.request_state
    if before in FINAL_STATES:
        raise Conflict(f"The request is already {before.value}.")
    updated = _save(
        conn, ctx, record, RequestState.WITHDRAWN, record.steps, record.deal, record.decision, None
    )
    history.record_withdrawal(conn, ctx, updated, reason_code)
    event = _event(
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


def _check_version(record: RequestRecord, if_match: int | None) -> None:
    """412 when the caller's If-Match names another version than the (locked) record's."""
    if if_match is not None and if_match != record.version:
        raise PreconditionFailed(
            f"The request is at version {record.version}, not {if_match}; reload it and retry."
        )


def _same_deal(record: RequestRecord, deal: Mapping[str, Any]) -> None:
    errors = {}
    if deal["deal_id"] != record.deal_id:
        errors["deal.deal_id"] = [
            f"Must stay {record.deal_id!r}: a revision changes terms, not the deal."
        ]
    if deal["owner_id"] != record.owner_id:
        errors["deal.owner_id"] = [f"Must stay {record.owner_id!r}: ownership never changes."]
    if errors:
        raise Invalid("A revision must keep the deal and its owner.", errors)


def _decide(
    conn: psycopg.Connection,
    ctx: Context,
    deal: Mapping[str, Any],
    parties: Parties,
    kind: str,
    revising: RequestRecord | None = None,
) -> tuple[Assessment, dict[str, Any], dict[str, Any]]:
    """Evaluate under the active policy and log it (with shadows) in the decision log.

    Returns the assessment, the decision as stored and shown, and the deal as stored, each
    built once."""
    requester, owner = parties.requester_party(), parties.owner_party()
    assessment = assess(
        ctx.policy,
        deal,
        requester,
        owner,
        today=ctx.today,
        now=ctx.now,
        decision_id=str(uuid.uuid4()),
        owner_delegate_id=parties.owner_delegate_id,
    )
    extra = history.customer_no_flags(conn, ctx, deal["deal_id"], assessment.decision, revising)
    if extra:
        decision = assessment.decision
        flags = decision.flags + tuple(f for f in extra if f not in decision.flags)
        assessment = assessment._replace(decision=decision._replace(flags=flags))
    shadow = shadow_results(
        ctx.shadows,
        assessment.decision,
        deal,
        requester,
        owner,
        today=ctx.today,
        now=ctx.now,
        owner_delegate_id=parties.owner_delegate_id,
    )
    output = assessment.decision.as_dict()
    stored_deal = jsonable(dict(deal))
    log_decision(
        conn,
        assessment.decision,
        output,
        ctx.today,
        {"deal": stored_deal, "requested_by": requester.id},
        kind=kind,
        shadow=shadow,
    )
    return assessment, output, stored_deal


def _route(
    conn: psycopg.Connection, ctx: Context, decision: Decision, parties: Parties
) -> list[Step]:
    from api.policy.model import Outcome

    if decision.outcome is Outcome.DENIED:
        return []
    tiers = step_tiers(ctx.policy, decision.required_tiers, parties.requester.tier)
    if not tiers:
        return []
    chain = [Candidate(p.id, p.tier, p.active) for p in manager_chain(conn, parties.owner.id)]
    registry = {
        tier: [Candidate(p.id, p.tier, p.active) for p in active_in_tier(conn, tier)]
        for tier in tiers
        if ctx.policy.routing_for(tier) is Routing.REGISTRY
    }
    return assign(ctx.policy, tiers, chain, registry, parties.owner.id)


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


def _lever_values(decision: Mapping[str, Any]) -> dict[str, Decimal | None]:
    return {
        f["lever"]: (Decimal(f["value"]) if f["value"] is not None else None)
        for f in decision["findings"]
    }


def _save(
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
    """Write the new state; only step `changed` when given, else every step. The saved
    record is built from what was written rather than read back."""
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
    return replace(
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


def _event(
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
