"""The deal CPQ sends, the evaluation request, and the Decision returned."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from api.http.fields import IsoDate, Number, StrictBoolean, decimal_out
from api.http.schemas.common import ID, PartyOut, PeriodOut, PolicyRefOut, Strict


class AccountIn(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.String(validate=ID)
    name = fields.String(validate=validate.Length(max=512))
    segment = fields.String(validate=validate.Length(max=128))


class LineIn(Strict):
    sku = fields.String(required=True, validate=ID)
    quantity = Number(minimum=0)
    list_price = Number(minimum=0)
    discount_pct = Number(minimum=0, maximum=100)


class DealIn(Schema):
    """The deal as CPQ sends it. Unknown top-level fields are refused unless the active policy
    names them as levers (then they must be non-negative numbers)."""

    class Meta:
        unknown = INCLUDE
        ordered = True

    deal_id = fields.String(required=True, validate=ID)
    owner_id = fields.String(required=True, validate=ID)
    currency = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z]{3}$", error="Must be a 3-letter ISO 4217 code."),
    )
    account = fields.Nested(AccountIn)
    list_amount = Number(required=True, minimum=0)
    discount_pct = Number(minimum=0, maximum=100)
    rebate_pct = Number(minimum=0, maximum=100)
    payment_terms_days = Number(minimum=0, maximum=3650)
    term_months = Number(minimum=0, maximum=1200)
    special_billing = StrictBoolean()
    close_date = IsoDate()
    customer_target_date = IsoDate()
    lines = fields.List(fields.Nested(LineIn), validate=validate.Length(max=1000))
    attributes = fields.Dict(keys=fields.String(), metadata={"additionalProperties": True})


class EvaluationIn(Strict):
    deal = fields.Nested(DealIn, required=True)
    requested_by = fields.String(required=True, validate=ID)
    as_of = IsoDate()


class FindingOut(Schema):
    lever = fields.String(required=True)
    value = decimal_out(allow_none=True, required=True)
    requester_ceiling = decimal_out(required=True)
    required_tier = fields.String(allow_none=True, required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            ["within", "needs_approval", "beyond_authority", "beyond_absolute_max", "not_requested"]
        ),
    )
    headroom = decimal_out(allow_none=True, required=True)
    reason = fields.String(required=True)


class MatchedRuleOut(Schema):
    name = fields.String(required=True)
    effects = fields.List(fields.String(), required=True)
    because = fields.String(allow_none=True, required=True)


class EvalErrorOut(Schema):
    source = fields.String(required=True)
    message = fields.String(required=True)


class DecisionOut(Schema):
    decision_id = fields.String(required=True)
    outcome = fields.String(
        required=True, validate=validate.OneOf(["approved", "needs_approval", "denied"])
    )
    requester = fields.Nested(PartyOut, required=True)
    owner = fields.Nested(PartyOut, required=True)
    required_tiers = fields.List(fields.String(), required=True)
    findings = fields.List(fields.Nested(FindingOut), required=True)
    rules = fields.List(fields.Nested(MatchedRuleOut), required=True)
    flags = fields.List(fields.String(), required=True)
    errors = fields.List(fields.Nested(EvalErrorOut), required=True)
    period = fields.Nested(PeriodOut, required=True)
    policy = fields.Nested(PolicyRefOut, required=True)
    evaluated_at = fields.DateTime(required=True)
