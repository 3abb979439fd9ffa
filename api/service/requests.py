"""Approval requests: submit and revise, each evaluated, logged, routed and recorded.

Every change appends its audit event (actor, before and after state, step) in the caller's
transaction, after a row lock on the request, so racing actions serialise in the database.
Approving, rejecting, returning and withdrawing are in request_actions; what all of them
share (find, If-Match, save, the audit event) is in request_records.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import psycopg

from api.errors import Conflict, Invalid
from api.ids import uuid7
from api.policy.deal import restore
from api.policy.decimals import jsonable
from api.policy.decision import Decision
from api.policy.engine import Assessment, assess
from api.policy.model import Routing
from api.service import bypass, history
from api.service import request_records as records
from api.service.announce import request_changed
from api.service.context import Context
from api.service.eligibility import attach
from api.service.evaluations import check_currency
from api.service.parties import Parties, check_acting_as, in_database, resolve_parties
from api.service.shadow import shadow_results
from api.storage.decisions import log_decision
from api.storage.people import Person, active_in_tier, manager_chain
from api.storage.requests import RequestRecord, insert_request
from api.workflow.machine import carry_over, current_step, settle, went_up
from api.workflow.overrides import lever_terms
from api.workflow.routing import Candidate, assign, step_tiers
from api.workflow.states import FINAL_STATES, Step


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
        bypass.check_bypass_allowed(
            ctx.policy, parties.requester_party(), ctx.may_override, reason_code, justification
        )
    check_acting_as(ctx.person_id, requested_by, "requested_by")
    assessment, output, stored_deal = _decide(conn, ctx, deal, parties, "submission")
    decision = assessment.decision
    seen: dict[str, Person] = {}
    routed = _route(conn, ctx, decision, parties, seen)
    state, stuck_reason = settle(decision.outcome, routed)
    steps = records.stamp(ctx, state, routed)
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
    records.note_assigned(conn, ctx, request_id, state, steps, restarted=False)
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
    record = attach(conn, ctx.policy, ctx.today, [record], known=seen)[0]
    history.record_ask(conn, ctx, record, "submission")
    event = records.event(conn, ctx, "request.submitted", parties.requester.id, record, None, None)
    request_changed(conn, event, record, submitted=True)
    if not parties.acting_for_owner:
        nothing = {lever.name: None for lever in ctx.policy.deal_levers}
        bypass.bypass(
            conn, ctx, record, assessment, nothing, str(reason_code), str(justification), deal
        )
    return record


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
    records.check_version(record, if_match)
    _same_deal(record, deal)
    check_currency(ctx.policy, deal)
    parties = resolve_parties(
        in_database(conn), ctx.policy, record.owner_id, requested_by, ctx.today
    )
    if not parties.acting_for_owner:
        bypass.check_bypass_allowed(
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
    updated = records.save(conn, ctx, record, state, steps, stored_deal, output, stuck_reason)
    history.record_ask(conn, ctx, updated, "revision", record.deal)
    event = records.event(
        conn, ctx, "request.revised", requested_by, updated, before, None, None, kept=keep
    )
    request_changed(conn, event, updated)
    if not parties.acting_for_owner:
        asked = lever_terms(ctx.policy, restore(record.deal, ctx.policy.lever_names))
        bypass.bypass(
            conn, ctx, updated, assessment, asked, str(reason_code), str(justification), deal
        )
    return updated


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
        decision_id=str(uuid7()),
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
    conn: psycopg.Connection,
    ctx: Context,
    decision: Decision,
    parties: Parties,
    seen: dict[str, Person] | None = None,
) -> list[Step]:
    """The steps and their approvers; the people read on the way are put in `seen`."""
    from api.policy.model import Outcome

    if decision.outcome is Outcome.DENIED:
        return []
    tiers = step_tiers(ctx.policy, decision.required_tiers, parties.requester.tier)
    if not tiers:
        return []
    people = manager_chain(conn, parties.owner.id)
    holders = {
        tier: active_in_tier(conn, tier)
        for tier in tiers
        if ctx.policy.routing_for(tier) is Routing.REGISTRY
    }
    if seen is not None:
        seen.update({p.id: p for p in [*people, *(p for h in holders.values() for p in h)]})
    chain = [Candidate(p.id, p.tier, p.active) for p in people]
    registry = {
        tier: [Candidate(p.id, p.tier, p.active) for p in found] for tier, found in holders.items()
    }
    return assign(ctx.policy, tiers, chain, registry, parties.owner.id)


def _lever_values(decision: Mapping[str, Any]) -> dict[str, Decimal | None]:
    return {
        f["lever"]: (Decimal(f["value"]) if f["value"] is not None else None)
        for f in decision["findings"]
    }
