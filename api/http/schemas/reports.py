"""The reports of DESIGN section 9: their query parameters and the items they answer."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.http.fields import IsoDate, Number
from api.http.schemas.common import DateRange, Strict
from api.reports.bands import BAND_KEYS
from api.reports.buckets import BUCKET_NAMES
from api.workflow.customer_no import WITHDRAW_REASON_CODES
from api.workflow.overrides import Category


class ReportQuery(DateRange, Strict):
    from_ = IsoDate(data_key="from", metadata={"description": "First UTC date, inclusive."})
    to = IsoDate(metadata={"description": "Last UTC date, inclusive."})


class LeverQuery(ReportQuery):
    lever = fields.String(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "A lever of the active policy (default: its first lever)."},
    )


class ProximityQuery(LeverQuery):
    band = Number(
        metadata={"description": "Band width, greater than 0 (default 1)."},
    )
    group_by = fields.String(load_default="tier", validate=validate.OneOf(["tier", "owner"]))

    @validates_schema
    def _positive_band(self, data: dict[str, Any], **kwargs: Any) -> None:
        band = data.get("band")
        if band is not None and band <= 0:
            raise ValidationError({"band": ["Must be greater than 0."]})


class ApprovalTimesQuery(ReportQuery):
    group_by = fields.String(load_default="tier", validate=validate.OneOf(["tier", "approver"]))


class TimelineQuery(ReportQuery):
    flag = fields.String(load_default="seller_timeline", validate=validate.Length(min=1, max=128))


def _counts(name: str, keys: tuple[str, ...]) -> fields.Nested:
    schema = Schema.from_dict({k: fields.Integer(required=True) for k in keys}, name=name)
    return fields.Nested(schema, required=True)


class ReportOut(Schema):
    from_ = fields.Date(data_key="from", allow_none=True, required=True)
    to = fields.Date(allow_none=True, required=True)
    generated_at = fields.DateTime(required=True)


class ProximityItemOut(Schema):
    key = fields.String(required=True, metadata={"description": "A tier or an owner's id."})
    bands = _counts("BandCountsOut", BAND_KEYS)
    asks = fields.Integer(required=True)
    bunching = fields.String(allow_none=True, required=True)
    flagged = fields.Boolean(required=True)


class PeriodEndItemOut(Schema):
    key = fields.String(required=True, metadata={"description": "A fiscal quarter: FY2027-Q3."})
    bucket = fields.String(required=True, validate=validate.OneOf(BUCKET_NAMES))
    requests = fields.Integer(required=True)
    mean = fields.String(allow_none=True, required=True)
    p90 = fields.String(allow_none=True, required=True)
    overrides = fields.Integer(required=True)
    excess_value = fields.String(required=True)


class RescuesItemOut(Schema):
    key = fields.String(required=True, metadata={"description": "An approver's or executive's id."})
    approved = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    returned = fields.Integer(required=True)
    overrides = _counts("CategoryCountsOut", tuple(c.value for c in Category))
    rescues = fields.Integer(required=True)
    coaching_share = fields.String(allow_none=True, required=True)


class TimelineItemOut(Schema):
    key = fields.String(required=True, metadata={"description": "An owner's id."})
    requests = fields.Integer(required=True)
    flagged = fields.Integer(required=True)
    slips = fields.Integer(required=True)


class CustomerNoItemOut(Schema):
    key = fields.String(required=True, metadata={"description": "An owner's id."})
    withdrawals = _counts("WithdrawalCountsOut", WITHDRAW_REASON_CODES)
    after_no = fields.Integer(required=True)
    deeper_after_no = fields.Integer(required=True)


class ProximityReportOut(ReportOut):
    items = fields.List(fields.Nested(ProximityItemOut), required=True)


class PeriodEndReportOut(ReportOut):
    items = fields.List(fields.Nested(PeriodEndItemOut), required=True)


class RescuesReportOut(ReportOut):
    items = fields.List(fields.Nested(RescuesItemOut), required=True)


class TimelineReportOut(ReportOut):
    items = fields.List(fields.Nested(TimelineItemOut), required=True)


class CustomerNoReportOut(ReportOut):
    items = fields.List(fields.Nested(CustomerNoItemOut), required=True)


class ApprovalTimesItemOut(Schema):
    key = fields.String(required=True, metadata={"description": "A tier or an approver's id."})
    steps = fields.Integer(
        required=True, metadata={"description": "Times a step became current (from..to)."}
    )
    acted = fields.Integer(required=True)
    median_hours = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Median (nearest rank) of hours from assigned to acted."},
    )
    p90_hours = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "90th percentile (nearest rank) of the same hours."},
    )
    overdue = fields.Integer(required=True)
    escalated = fields.Integer(
        required=True, metadata={"description": "Steps escalated at least once."}
    )
    period_end_median_hours = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The median for steps assigned inside a period-end window."},
    )
    rescued_after_overdue = fields.Integer(
        required=True,
        metadata={
            "description": "Overrides around the owner filed after a step of this group fell "
            "due (and went overdue) on the same request: the stall that invites the swoop."
        },
    )


class ApprovalTimesReportOut(ReportOut):
    items = fields.List(fields.Nested(ApprovalTimesItemOut), required=True)
