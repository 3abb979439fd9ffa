"""A request's page: the deal, every ask and revision with its levers and findings, each step,
flags, linked overrides and audit events; and, for whoever may act on its current step,
approve, reject or return with coaching, through the same service as the API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
from flask import Response, redirect, request, session, url_for
from marshmallow import Schema, ValidationError

from api.console.acting import (
    ACT_SCOPE,
    OWNER_SCOPE,
    acting_context,
    eligible_now,
    may_see,
    person_of,
)
from api.console.blueprint import FINANCE, bp, needs, page, user
from api.console.register import messages_of
from api.errors import Forbidden
from api.http.context import runtime
from api.http.replies import resource_id
from api.http.schemas import ApproveIn, CommentedActionIn
from api.service import request_actions as actions
from api.service import request_records as records
from api.storage import timeline
from api.storage.database import transaction
from api.storage.requests import RequestRecord
from api.workflow.states import Action

FORMS: dict[Action, Schema] = {
    Action.APPROVE: ApproveIn(),
    Action.REJECT: CommentedActionIn(),
    Action.RETURN: CommentedActionIn(),
}
DONE = {Action.APPROVE: "approved", Action.REJECT: "rejected", Action.RETURN: "returned"}
NOTICE = "request_notice"


def _load(conn: psycopg.Connection, rid: uuid.UUID) -> dict[str, Any]:
    """Everything the page shows, read in one transaction; 403 for someone not involved."""
    rt = runtime()
    record = records.find(conn, rid)
    eligible = eligible_now(conn, rt.policies.active, rt.today(), record)
    linked = timeline.linked_overrides(conn, rid)
    me = user()
    if not may_see(me, record, eligible, {o.executive_id for o in linked}):
        raise Forbidden(
            "You may see only requests you own, asked for, or approve (finance, with "
            "audit:read, sees every request)."
        )
    subjects = [f"request:{rid}", *(f"override:{o.id}" for o in linked)]
    events = timeline.events_about(conn, subjects)
    return {
        "r": record,
        "eligible": eligible,
        "asks": timeline.asks_of(conn, rid, record.deal_id),
        "overrides": linked,
        "events": [(e, _summary(e.payload)) for e in events],
        "events_limit": timeline.EVENTS_LIMIT,
    }


def _summary(payload: Mapping[str, Any]) -> str:
    """An event's payload in a line: its comment when it has one, else its JSON."""
    comment = payload.get("comment") or payload.get("note")
    if isinstance(comment, str):
        return comment
    shown = {k: v for k, v in payload.items() if k not in ("request_id", "deal_id")}
    return json.dumps(shown, sort_keys=True, ensure_ascii=False)


def _why_not(record: RequestRecord, eligible_people: dict[str, str]) -> str | None:
    """Why the signed-in person cannot act here (None when they can)."""
    me = user()
    if eligible_people == {} and record.state != "pending":
        return f"The request is {record.state}: no step waits for an approver."
    if me.person_id is None:
        return "Acting needs a sign-in as a person."
    if me.person_id not in eligible_people:
        return "The current step waits for someone else."
    if not me.has(ACT_SCOPE):
        return f"Acting on a step needs the `{ACT_SCOPE}` scope."
    return None


def _render(rid: uuid.UUID, status: int = 200, **extra: Any) -> tuple[str, int]:
    with transaction(runtime().pool) as conn:
        context = _load(conn, rid)
    record: RequestRecord = context["r"]
    eligible = context["eligible"]
    why_not = _why_not(record, eligible.people)
    shown = {
        "title": f"Request for {record.deal_id}",
        "me": user(),
        "role": eligible.people.get(user().person_id or ""),
        "why_not": why_not,
        "form": {},
        "form_errors": {},
        "notice": session.pop(NOTICE, None),
        **context,
        **extra,
    }
    return page("console/request.html", **shown), status


@bp.route("/requests/<string:request_id>")
@needs(FINANCE, OWNER_SCOPE, ACT_SCOPE)
def request_page(request_id: str) -> tuple[str, int]:
    return _render(resource_id(request_id, "approval request"))


@bp.route("/requests/<string:request_id>/act", methods=["POST"])
@needs(ACT_SCOPE)
def act_on_request(request_id: str) -> Response | tuple[str, int]:
    """Approve, reject or return as the signed-in person: the API's checks (403, 409, 412)
    hold because it is the API's service that acts."""
    rid = resource_id(request_id, "approval request")
    me = user()
    person = person_of(me, "Acting on a step")
    raw = request.form.get("action", "")
    form = {"comment": request.form.get("comment", "").strip()}
    version = request.form.get("version", "")
    try:
        action = Action(raw)
    except ValueError:
        return _render(rid, 422, form=form, form_errors={"action": ["Choose an action."]})
    body = {"approver_id": person, **({"comment": form["comment"]} if form["comment"] else {})}
    try:
        data = FORMS[action].load(body)
    except ValidationError as exc:
        return _render(rid, 422, form=form, form_errors=messages_of(exc), failed=action.value)
    with transaction(runtime().pool) as conn:
        ctx = acting_context(conn, me)
        record = records.find(conn, rid, lock=True)
        if_match = int(version) if version.isdigit() else None
        actions.act_on(conn, ctx, record, action, person, data.get("comment"), if_match)
    session[NOTICE] = f"You {DONE[action]} the {record.deal_id} step."
    target = url_for("console.request_page", request_id=request_id)
    return redirect(target, code=303)  # type: ignore[return-value]
