"""Executive overrides: classified, costed, chained into the audit log, reviewed by finance.

Filing one is here; an override written by acting around the owner is in bypass.py, and the
owner's acknowledgement and finance's review in override_reviews.py."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from api.audit.chain import Event
from api.errors import Conflict, Forbidden, Invalid, NotFound, Refused
from api.events.types import EventType
from api.ids import uuid7
from api.policy.deal import restore
from api.policy.decimals import decimal_str, jsonable
from api.policy.engine import REQUESTER_NOT_OWNER, Assessment, assess
from api.policy.model import Policy, Status
from api.service.announce import request_changed
from api.service.context import Context
from api.service.evaluations import check_currency
from api.service.parties import check_acting_as, in_database, resolve_parties
from api.service.reports import override_json
from api.storage import audit
from api.storage import overrides as store
from api.storage.outbox import emit_for
from api.storage.people import get_person, manager_chain
from api.storage.requests import RequestRecord, get_request, update_request
from api.workflow.overrides import Category, categorize, excess_value, excesses, lever_terms
from api.workflow.states import RequestState


@dataclass(frozen=True, slots=True)
class OverrideInput:
    executive_id: str
    request_id: uuid.UUID | None
    deal: Mapping[str, Any] | None
    terms: Mapping[str, Decimal]
    reason_code: str
    justification: str


def create(conn: psycopg.Connection, ctx: Context, body: OverrideInput) -> store.OverrideRecord:
    policy = ctx.policy
    request = _request(conn, body.request_id) if body.request_id else None
    unknown = [k for k in body.terms if k not in policy.lever_names]
    if unknown:
        raise Invalid(
            "Terms name levers the policy does not have.",
            {f"terms.{k}": ["Not a deal-field lever of the active policy."] for k in unknown},
        )
    if request is not None:
        base = restore(request.deal, policy.lever_names)
    else:
        assert body.deal is not None
        base = dict(body.deal)
        check_currency(policy, base)
    executive = get_person(conn, body.executive_id)
    if executive is None or executive.tier not in policy.ranks:
        raise Invalid(
            "Unknown executive.",
            {
                "executive_id": [
                    f"No person {body.executive_id!r} with a tier of the active policy."
                ]
            },
        )
    parties = resolve_parties(in_database(conn), policy, base["owner_id"], executive.id, ctx.today)
    granted = {**base, **body.terms}
    assessment = assess(
        policy,
        granted,
        parties.requester_party(),
        parties.owner_party(),
        today=ctx.today,
        now=ctx.now,
        decision_id=str(uuid7()),
        owner_delegate_id=parties.owner_delegate_id,
    )
    _refuse_absolute_max(policy, assessment)
    check_acting_as(ctx.person_id, executive.id, "executive_id")
    check_min_tier(policy, executive.id, executive.tier)
    if request is not None and request.request_state is RequestState.WITHDRAWN:
        raise Conflict("The request was withdrawn (the customer said no); it cannot be overridden.")
    found = excesses(policy, assessment, executive.tier)
    chain_ids = {p.id for p in manager_chain(conn, parties.owner.id)}
    asked = owners_ask(policy, request) if request is not None else None
    categories = categorize(
        assessment,
        found,
        asked=asked,
        granted={k: granted.get(k) for k in body.terms},
        in_chain=executive.id in chain_ids,
        is_approver=request is not None
        and any(s.approver_id == executive.id for s in request.steps),
    )
    if not categories:
        raise Refused(
            "These terms are within policy, within your own authority and what the owner asked "
            "for: that is an approval, not an override. Approve the request instead."
        )
    if request is not None:
        _mark_overridden(conn, ctx, request, granted)
    record, event = write(
        conn,
        ctx,
        assessment,
        request_id=request.id if request else None,
        deal=granted,
        categories=categories,
        before=lever_terms(policy, base),
        reason_code=body.reason_code,
        justification=body.justification,
        excess=found,
    )
    if request is not None:
        overridden = get_request(conn, request.id)
        assert overridden is not None
        request_changed(conn, event, overridden)
    return record


def write(
    conn: psycopg.Connection,
    ctx: Context,
    assessment: Assessment,
    *,
    request_id: uuid.UUID | None,
    deal: Mapping[str, Any],
    categories: list[Category],
    before: Mapping[str, Decimal | None],
    reason_code: str,
    justification: str,
    excess: list[Any],
) -> tuple[store.OverrideRecord, Event]:
    """Append the audit event, then the override row carrying its hash, then announce it."""
    policy = ctx.policy
    decision = assessment.decision
    override_id = uuid.uuid4()
    fields: dict[str, Any] = {
        "id": override_id,
        "request_id": request_id,
        "deal_id": deal["deal_id"],
        "owner_id": decision.owner.id,
        "owner_tier": decision.owner.tier,
        "executive_id": decision.requester.id,
        "executive_tier": decision.requester.tier,
        "categories": [c.value for c in categories],
        "terms_before": jsonable(dict(before)),
        "terms_after": jsonable(lever_terms(policy, deal)),
        "excess": [e.as_dict() for e in excess],
        "excess_value": excess_value(policy, excess, Decimal(deal["list_amount"])),
        "currency": policy.currency,
        "reason_code": reason_code,
        "justification": justification,
        "fiscal_year": decision.period.fiscal_year,
        "fiscal_quarter": decision.period.fiscal_quarter,
        "period_end": decision.period.is_period_end,
        "period": decision.period.as_dict(),
        "policy_name": policy.name,
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
    }
    payload = dict(fields)
    payload.update(
        id=str(override_id),
        request_id=str(request_id) if request_id else None,
        excess_value=decimal_str(fields["excess_value"]),
        via_key=ctx.actor_key,
    )
    event = audit.append_event(
        conn, "override.created", decision.requester.id, f"override:{override_id}", payload
    )
    # created_at is the event's time, taken under the chain lock: it rises with seq
    store.insert_override(conn, {**fields, "created_at": event.at, "event_hash": event.hash})
    record = store.get_override(conn, override_id)
    assert record is not None
    emit_for(conn, event, EventType.OVERRIDE_FILED, override_json(record, []))
    return record, event


def owners_ask(policy: Policy, request: RequestRecord) -> dict[str, Decimal | None] | None:
    """What the owner asked for: the lever values of the decision they got (the request's
    deal may already hold an earlier override's terms). None when someone else submitted."""
    decision = request.decision
    if REQUESTER_NOT_OWNER in decision["flags"]:
        return None
    values = {f["lever"]: f["value"] for f in decision["findings"]}
    return {
        lever.name: (Decimal(values[lever.name]) if values.get(lever.name) is not None else None)
        for lever in policy.deal_levers
    }


def check_min_tier(policy: Policy, person_id: str, tier: str) -> None:
    min_tier = policy.override_min_tier
    if min_tier is not None and policy.rank(tier) < policy.rank(min_tier):
        raise Forbidden(f"Only {min_tier} and above may override; {person_id} is {tier}.")


def _request(conn: psycopg.Connection, request_id: uuid.UUID) -> RequestRecord:
    record = get_request(conn, request_id, lock=True)
    if record is None:
        raise NotFound(f"No approval request {request_id}.")
    return record


def _refuse_absolute_max(policy: Policy, assessment: Assessment) -> None:
    over = [f for f in assessment.decision.findings if f.status is Status.BEYOND_ABSOLUTE_MAX]
    if over:
        deal_levers = policy.lever_names
        raise Invalid(
            "No one may exceed an absolute maximum, not even by override.",
            {(f"terms.{f.lever}" if f.lever in deal_levers else f.lever): [f.reason] for f in over},
        )


def _mark_overridden(
    conn: psycopg.Connection, ctx: Context, request: RequestRecord, granted: Mapping[str, Any]
) -> None:
    update_request(
        conn,
        {
            "id": request.id,
            "state": RequestState.OVERRIDDEN.value,
            "deal": jsonable(dict(granted)),
            "decision": request.decision,
            "policy_sha256": request.policy_sha256,
            "stuck_reason": None,
            "current_step": None,
            "now": ctx.now,
        },
        None,
    )
