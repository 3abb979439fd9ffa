"""Approval requests, their steps and actions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.http.schemas.common import COMMENT, ID, JUSTIFICATION, PageQuery, PartyOut, Strict
from api.http.schemas.deals import DealIn, DecisionOut
from api.workflow.customer_no import WITHDRAW_REASON_CODES
from api.workflow.overrides import REASON_CODES

REQUEST_STATES = [
    "approved",
    "pending",
    "rejected",
    "returned",
    "withdrawn",
    "denied",
    "overridden",
    "stuck",
]


class SubmissionIn(Strict):
    deal = fields.Nested(DealIn, required=True)
    requested_by = fields.String(required=True, validate=ID)
    reason_code = fields.String(validate=validate.OneOf(list(REASON_CODES)))
    justification = fields.String(validate=JUSTIFICATION)


class ApproveIn(Strict):
    approver_id = fields.String(required=True, validate=ID)
    comment = fields.String(validate=COMMENT)


class CommentedActionIn(Strict):
    approver_id = fields.String(required=True, validate=ID)
    comment = fields.String(required=True, validate=COMMENT)


class ReviseIn(Strict):
    requested_by = fields.String(required=True, validate=ID)
    deal = fields.Nested(DealIn, required=True)
    reason_code = fields.String(validate=validate.OneOf(list(REASON_CODES)))
    justification = fields.String(validate=JUSTIFICATION)


class WithdrawIn(Strict):
    requested_by = fields.String(required=True, validate=ID)
    reason = fields.String(required=True, validate=COMMENT)
    reason_code = fields.String(validate=validate.OneOf(list(WITHDRAW_REASON_CODES)))


class EligibleOut(Schema):
    id = fields.String(required=True)
    tier = fields.String(required=True)


class EscalationOut(Schema):
    person_id = fields.String(required=True)
    at = fields.DateTime(required=True)


class StepOut(Schema):
    tier = fields.String(required=True)
    approver_id = fields.String(allow_none=True, required=True)
    state = fields.String(
        required=True, validate=validate.OneOf(["pending", "approved", "rejected", "returned"])
    )
    acted_by = fields.String(allow_none=True, required=True)
    acted_at = fields.DateTime(allow_none=True, required=True)
    comment = fields.String(allow_none=True, required=True)
    assigned_at = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "When the step became the current one; null until then."},
    )
    due_at = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "assigned_at plus the policy's SLA then in force; null untimed."},
    )
    eligible = fields.List(
        fields.Nested(EligibleOut),
        required=True,
        metadata={
            "description": "Everyone who may act on the step now: its approver, their active "
            "delegate and every manager it was escalated to (empty unless current)."
        },
    )
    escalations = fields.List(fields.Nested(EscalationOut), required=True)


class CurrentStepOut(Schema):
    seq = fields.Integer(required=True)
    tier = fields.String(required=True)
    approver_id = fields.String(allow_none=True, required=True)


class ApprovalRequestOut(Schema):
    id = fields.String(required=True)
    deal_id = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(REQUEST_STATES))
    stuck_reason = fields.String(allow_none=True, required=True)
    owner = fields.Nested(PartyOut, required=True)
    requested_by = fields.Nested(PartyOut, required=True)
    deal = fields.Dict(required=True)
    decision = fields.Nested(DecisionOut, required=True)
    steps = fields.List(fields.Nested(StepOut), required=True)
    current_step = fields.Nested(
        CurrentStepOut,
        allow_none=True,
        required=True,
        metadata={"description": "The step waiting for its approver; null unless pending."},
    )
    policy_sha256 = fields.String(required=True)
    reason_code = fields.String(allow_none=True, required=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class RequestsQuery(PageQuery):
    deal_id = fields.String(validate=ID)
    state = fields.String(validate=validate.OneOf(REQUEST_STATES))
    owner_id = fields.String(validate=ID)
    approver_id = fields.String(validate=ID)


class RequestsPage(Schema):
    items = fields.List(fields.Nested(ApprovalRequestOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
