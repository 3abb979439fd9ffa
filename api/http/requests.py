"""Approval requests: submit, read, list (an approver's inbox), approve, reject, return,
revise and withdraw."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import psycopg
from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import Schema

from api.http.auth import Scope, current_key, has_scope, requires
from api.http.body import json_body
from api.http.context import action_context, runtime
from api.http.deals import with_levers
from api.http.metrics import count_decision, count_new_overrides, count_step, overrides_of
from api.http.openapi import response_headers
from api.http.problems import HttpProblem
from api.http.replies import decode_cursor, encode_cursor, reply, resource_id
from api.http.schemas import (
    ApprovalRequestOut,
    ApproveIn,
    CommentedActionIn,
    RequestsPage,
    RequestsQuery,
    ReviseIn,
    SubmissionIn,
    WithdrawIn,
)
from api.http.spec import EXAMPLES, body, problems
from api.http.uow import IDEMPOTENCY_PARAM, idempotent, unit_of_work
from api.service import request_actions as actions
from api.service import request_records as records
from api.service import requests as service
from api.service.context import Context
from api.service.eligibility import attach
from api.service.resources import request_json
from api.storage.requests import RequestRecord, list_requests
from api.workflow.states import Action

blp = Blueprint("approval_requests", __name__, description="Approval requests and their steps")
ACTION_BODIES: dict[Action, Schema] = {
    Action.APPROVE: ApproveIn(),
    Action.REJECT: CommentedActionIn(),
    Action.RETURN: CommentedActionIn(),
}
SUBMISSION_IN, REVISE_IN, WITHDRAW_IN = SubmissionIn(), ReviseIn(), WithdrawIn()
ETAG = response_headers("ETag")
ACTION_DOC = (
    'Returns the updated request with `ETag: "<version>"`; `If-Match` gives 412 when stale.'
)


def _reply(record: RequestRecord, status: int = 200) -> Response:
    headers = {"ETag": f'"{record.version}"'}
    if status == 201:
        headers["Location"] = f"/v1/approval-requests/{record.id}"
    return reply(request_json(record), status, headers)


def context(conn: psycopg.Connection) -> Context:
    """The action's context, under the policy set in force: read in the request's own
    transaction, so nothing decides under a set that a committed publish has replaced."""
    key = current_key()
    return action_context(conn, key.name, has_scope(key, Scope.OVERRIDES), key.person_id)


IF_MATCH = r'^(W/)?"?[0-9]{1,18}"?$'
"""`3`, `"3"` or the ETag as sent (`W/"3"` too): what the schema declares is what is taken."""
_IF_MATCH = re.compile(IF_MATCH)


def _if_match() -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    text = header.strip()
    if not _IF_MATCH.match(text):
        raise HttpProblem(
            412,
            "precondition-failed",
            'If-Match must be a request version such as 3 or "3".',
            {"If-Match": ["Not a version number."]},
        )
    return int(text.removeprefix("W/").strip('"'))


@blp.route("/v1/approval-requests", methods=["POST"])
@blp.doc(operationId="submitApprovalRequest")
@requires(Scope.REQUESTS)
@blp.doc(
    requestBody=body(SubmissionIn, EXAMPLES["submission"]),
    parameters=[IDEMPOTENCY_PARAM],
)
@blp.response(201, ApprovalRequestOut, headers=response_headers("ETag", "Location"))
@problems(blp, 400, 409, 413, 415, 422, 503)
@idempotent
def submit() -> Response:
    """Submit a deal for approval: evaluated, routed to named approvers, state set."""
    data = json_body(SUBMISSION_IN)
    with unit_of_work() as conn:
        ctx = context(conn)
        deal = with_levers(data["deal"], ctx.policy)
        record = service.submit(
            conn,
            ctx,
            deal,
            data["requested_by"],
            data.get("reason_code"),
            data.get("justification"),
        )
        if record.requested_by != record.owner_id:  # perhaps around the owner: an override
            count_new_overrides(conn, record.id)
    count_decision(record.decision["outcome"], "submission")
    return _reply(record, 201)


@blp.route("/v1/approval-requests/<string:request_id>", methods=["GET"])
@blp.doc(operationId="getApprovalRequest")
@requires(Scope.REQUESTS)
@blp.response(200, ApprovalRequestOut, headers=ETAG)
@problems(blp, 404, 503)
def get(request_id: str) -> Response:
    rt = runtime()
    with unit_of_work() as conn:
        record = records.find(conn, resource_id(request_id, "approval request"))
        record = attach(conn, rt.policies.active, rt.today(), [record])[0]
    return _reply(record)


@blp.route("/v1/approval-requests", methods=["GET"])
@blp.doc(operationId="listApprovalRequests")
@requires(Scope.REQUESTS)
@blp.arguments(RequestsQuery, location="query")
@blp.response(200, RequestsPage)
@problems(blp, 422, 503)
def index(query: dict[str, Any]) -> Response:
    """List requests, oldest first. With `approver_id`: that approver's inbox."""
    rt = runtime()
    cursor = decode_cursor(query.get("cursor"), str, str)
    after = None
    if cursor is not None:
        try:
            after = (datetime.fromisoformat(cursor[0]), uuid.UUID(cursor[1]))
        except (TypeError, ValueError):
            decode_cursor("!", str, str)
    limit = query["limit"]
    with unit_of_work() as conn:
        rows = list_requests(
            conn, query, after, limit + 1, today=rt.today(), tiers=rt.policies.active.tiers
        )
        page = attach(conn, rt.policies.active, rt.today(), rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor([page[-1].created_at.isoformat(), str(page[-1].id)])
    return reply({"items": [request_json(r) for r in page], "next_cursor": next_cursor})


def _action(request_id: str, action: Action) -> Response:
    rid = resource_id(request_id, "approval request")
    with unit_of_work() as conn:
        ctx = context(conn)
        record = records.find(conn, rid, lock=True)
        data = json_body(ACTION_BODIES[action])
        record = actions.act_on(
            conn, ctx, record, action, data["approver_id"], data.get("comment"), _if_match()
        )
    count_step(next(s for s in record.steps if s.acted_at == ctx.now))
    return _reply(record)


ACTION_PARAMS = [
    {
        "in": "header",
        "name": "If-Match",
        "schema": {"type": "string", "pattern": IF_MATCH},
        "description": 'The request\'s `version`, as `3` or `"3"` (the ETag): 412 when stale.',
    },
    IDEMPOTENCY_PARAM,
]


@blp.route("/v1/approval-requests/<string:request_id>/approve", methods=["POST"])
@blp.doc(operationId="approveApprovalRequest")
@requires(Scope.APPROVALS)
@blp.doc(
    requestBody=body(ApproveIn, EXAMPLES["approve"]),
    parameters=ACTION_PARAMS,
    description=ACTION_DOC,
)
@blp.response(200, ApprovalRequestOut, headers=ETAG)
@problems(blp, 400, 404, 409, 412, 413, 415, 422, 503)
@idempotent
def approve(request_id: str) -> Response:
    """Approve the current step (its approver or their delegate only)."""
    return _action(request_id, Action.APPROVE)


@blp.route("/v1/approval-requests/<string:request_id>/reject", methods=["POST"])
@blp.doc(operationId="rejectApprovalRequest")
@requires(Scope.APPROVALS)
@blp.doc(
    requestBody=body(CommentedActionIn, EXAMPLES["comment"]),
    parameters=ACTION_PARAMS,
    description=ACTION_DOC,
)
@blp.response(200, ApprovalRequestOut, headers=ETAG)
@problems(blp, 400, 404, 409, 412, 413, 415, 422, 503)
@idempotent
def reject(request_id: str) -> Response:
    """Reject the request at the current step; a comment is required."""
    return _action(request_id, Action.REJECT)


@blp.route("/v1/approval-requests/<string:request_id>/return", methods=["POST"])
@blp.doc(operationId="returnApprovalRequest")
@requires(Scope.APPROVALS)
@blp.doc(
    requestBody=body(CommentedActionIn, EXAMPLES["comment"]),
    parameters=ACTION_PARAMS,
    description=ACTION_DOC,
)
@blp.response(200, ApprovalRequestOut, headers=ETAG)
@problems(blp, 400, 404, 409, 412, 413, 415, 422, 503)
@idempotent
def return_(request_id: str) -> Response:
    """Return the request to its owner with coaching; a comment is required."""
    return _action(request_id, Action.RETURN)


@blp.route("/v1/approval-requests/<string:request_id>/revise", methods=["POST"])
@blp.doc(operationId="reviseApprovalRequest")
@requires(Scope.REQUESTS)
@blp.doc(
    requestBody=body(ReviseIn, EXAMPLES["revise"]), parameters=ACTION_PARAMS, description=ACTION_DOC
)
@blp.response(200, ApprovalRequestOut, headers=ETAG)
@problems(blp, 400, 404, 409, 412, 413, 415, 422, 503)
@idempotent
def revise(request_id: str) -> Response:
    """The owner changes terms; the request is re-evaluated (smart re-approval)."""
    rid = resource_id(request_id, "approval request")
    with unit_of_work() as conn:
        ctx = context(conn)
        record = records.find(conn, rid, lock=True)
        data = json_body(REVISE_IN)
        deal = with_levers(data["deal"], ctx.policy)
        earlier = overrides_of(conn, rid) if data["requested_by"] != record.owner_id else None
        record = service.revise(
            conn,
            ctx,
            record,
            data["requested_by"],
            deal,
            data.get("reason_code"),
            data.get("justification"),
            _if_match(),
        )
        if earlier is not None:
            count_new_overrides(conn, rid, earlier)
    count_decision(record.decision["outcome"], "revision")
    return _reply(record)


@blp.route("/v1/approval-requests/<string:request_id>/withdraw", methods=["POST"])
@blp.doc(operationId="withdrawApprovalRequest")
@requires(Scope.REQUESTS)
@blp.doc(
    requestBody=body(WithdrawIn, EXAMPLES["withdraw"]),
    parameters=ACTION_PARAMS,
    description=ACTION_DOC,
)
@blp.response(200, ApprovalRequestOut, headers=ETAG)
@problems(blp, 400, 404, 409, 412, 413, 415, 422, 503)
@idempotent
def withdraw(request_id: str) -> Response:
    """The owner withdraws the request (e.g. the customer said no); final."""
    rid = resource_id(request_id, "approval request")
    with unit_of_work() as conn:
        ctx = context(conn)
        record = records.find(conn, rid, lock=True)
        data = json_body(WITHDRAW_IN)
        record = actions.withdraw(
            conn,
            ctx,
            record,
            data["requested_by"],
            data["reason"],
            _if_match(),
            data.get("reason_code"),
        )
    return _reply(record)
