"""Acting as the signed-in person: the context the services take (the same as the API builds
for a people-bound key), who may act on a request's current step, and who may see a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

from api.console.blueprint import FINANCE
from api.console.sessions import SignedIn
from api.errors import Forbidden
from api.http.context import action_context
from api.policy.model import Policy
from api.service.context import Context
from api.service.eligibility import attach
from api.storage.requests import RequestRecord
from api.workflow.machine import acting_as, current_step
from api.workflow.states import Step

ACT_SCOPE = "approvals"
OWNER_SCOPE = "requests"
OVERRIDE_SCOPE = "overrides"


def acting_context(conn: psycopg.Connection, me: SignedIn) -> Context:
    """As the API's for a people-bound key: the set in force read in this transaction."""
    return action_context(conn, me.key_name, me.has(OVERRIDE_SCOPE), me.person_id)


def person_of(me: SignedIn, what: str) -> str:
    """The person the sign-in acts as; a key bound to nobody cannot have `what`."""
    if me.person_id is None:
        raise Forbidden(
            f"{what} belongs to a person: sign in as yourself (single sign-on, or a key made "
            "with dealdesk keys create --person)."
        )
    return me.person_id


@dataclass(frozen=True, slots=True)
class Eligible:
    """Who may act on the current step now, and as what (approver, delegate, escalated)."""

    step: int | None
    people: dict[str, str]


def eligible_now(
    conn: psycopg.Connection, policy: Policy, today: date, record: RequestRecord
) -> Eligible:
    """The current step's `eligible` as the API shows and checks it (api.service.eligibility,
    the rule of api.workflow.machine.may_act_on), each with the role they act in; never the
    owner or the requester, whom the API refuses on their own request."""
    index = current_step(record.request_state, record.steps)
    if index is None:
        return Eligible(None, {})
    step = attach(conn, policy, today, [record])[0].steps[index]
    people = {e.id: role_of(step, e.id) for e in step.eligible}
    for party in (record.owner_id, record.requested_by):
        people.pop(party, None)
    return Eligible(index, people)


def role_of(step: Step, person_id: str) -> str:
    """The capacity an eligible person acts in (the audit's `acted_as`, in words)."""
    role = acting_as(step, person_id)
    return "escalated manager" if role == "escalated_manager" else role


def may_see(me: SignedIn, record: RequestRecord, eligible: Eligible, executives: set[str]) -> bool:
    """Finance sees every request; others their own: owner, requester, an approver of any
    step (now or when they acted), who may act now, or an executive who overrode it."""
    if me.has(FINANCE):
        return True
    person = me.person_id
    if person is None:
        return False
    involved = {record.owner_id, record.requested_by, *executives, *eligible.people}
    for step in record.steps:
        involved.update(p for p in (step.approver_id, step.acted_by) if p)
    return person in involved
