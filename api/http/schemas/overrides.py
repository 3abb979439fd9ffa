"""Executive overrides, their reviews, filters and summary."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.http.fields import IsoDate, Number, decimal_out
from api.http.schemas.common import (
    COMMENT,
    ID,
    JUSTIFICATION,
    DateRange,
    PageQuery,
    PartyOut,
    PeriodOut,
    PolicyRefOut,
    Strict,
)
from api.http.schemas.deals import DealIn
from api.workflow.overrides import REASON_CODES

REVIEW_STATUSES = ["pending", "accepted", "questioned", "clawback"]

CATEGORIES = ["beyond_policy", "beyond_executive_authority", "bypassed_owner", "out_of_chain"]


class OverrideIn(Strict):
    executive_id = fields.String(required=True, validate=ID)
    request_id = fields.UUID()
    deal = fields.Nested(DealIn)
    terms = fields.Dict(
        keys=fields.String(validate=ID),
        values=Number(minimum=0),
        required=True,
        validate=validate.Length(min=1, max=50),
    )
    reason_code = fields.String(required=True, validate=validate.OneOf(list(REASON_CODES)))
    justification = fields.String(required=True, validate=JUSTIFICATION)

    @validates_schema
    def _one_subject(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("request_id" in data) == ("deal" in data):
            raise ValidationError("Give either request_id or deal (exactly one).", "request_id")


class ExcessOut(Schema):
    lever = fields.String(required=True)
    value = decimal_out(required=True)
    approvable_max = decimal_out(required=True)
    excess = decimal_out(required=True)


class ReviewOut(Schema):
    id = fields.Integer(required=True)
    override_id = fields.String(required=True)
    reviewer_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REVIEW_STATUSES[1:]))
    note = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class OverrideOut(Schema):
    id = fields.String(required=True)
    request_id = fields.String(allow_none=True, required=True)
    deal_id = fields.String(required=True)
    owner = fields.Nested(PartyOut, required=True)
    executive = fields.Nested(PartyOut, required=True)
    categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), required=True)
    terms_before = fields.Dict(
        keys=fields.String(), values=decimal_out(allow_none=True), required=True
    )
    terms_after = fields.Dict(
        keys=fields.String(), values=decimal_out(allow_none=True), required=True
    )
    excess = fields.List(fields.Nested(ExcessOut), required=True)
    excess_value = decimal_out(required=True)
    currency = fields.String(required=True)
    reason_code = fields.String(required=True)
    justification = fields.String(required=True)
    period = fields.Nested(PeriodOut, required=True)
    policy = fields.Nested(PolicyRefOut, required=True)
    review_status = fields.String(required=True, validate=validate.OneOf(REVIEW_STATUSES))
    owner_acknowledged = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    event_hash = fields.String(required=True)
    reviews = fields.List(fields.Nested(ReviewOut))


class OverridesFilter(DateRange, Strict):
    """The filters of the override list and of its CSV export."""

    from_ = IsoDate(data_key="from")
    to = IsoDate()
    fiscal_year = fields.Integer(validate=validate.Range(min=1900, max=9999))
    fiscal_quarter = fields.Integer(validate=validate.Range(min=1, max=4))
    executive_id = fields.String(validate=ID)
    owner_id = fields.String(validate=ID)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    review_status = fields.String(validate=validate.OneOf(REVIEW_STATUSES))
    period_end = fields.Boolean()


class OverridesQuery(OverridesFilter, PageQuery):
    pass


class OverridesPage(Schema):
    items = fields.List(fields.Nested(OverrideOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class SummaryQuery(DateRange, Strict):
    group_by = fields.String(
        required=True, validate=validate.OneOf(["executive", "owner", "fiscal_quarter"])
    )
    from_ = IsoDate(data_key="from")
    to = IsoDate()


class SummaryRowOut(Schema):
    key = fields.String(required=True)
    count = fields.Integer(required=True)
    period_end_count = fields.Integer(required=True)
    excess_value = decimal_out(required=True)
    pending_review = fields.Integer(required=True)


class SummaryOut(Schema):
    items = fields.List(fields.Nested(SummaryRowOut), required=True)


class AcknowledgeIn(Strict):
    owner_id = fields.String(required=True, validate=ID)


class ReviewIn(Strict):
    reviewer_id = fields.String(required=True, validate=ID)
    status = fields.String(required=True, validate=validate.OneOf(REVIEW_STATUSES[1:]))
    note = fields.String(required=True, validate=COMMENT)
