"""Request and response schemas. They generate openapi.yaml; requests are loaded through them."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.http.fields import IsoDate, Number, StrictBoolean
from api.workflow.overrides import REASON_CODES

ID = validate.Length(min=1, max=128)
TEXT = validate.Length(max=10_000)


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


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


class PartyOut(Schema):
    id = fields.String(required=True)
    tier = fields.String(required=True)


class FindingOut(Schema):
    lever = fields.String(required=True)
    value = fields.String(allow_none=True, required=True)
    requester_ceiling = fields.String(required=True)
    required_tier = fields.String(allow_none=True, required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            ["within", "needs_approval", "beyond_authority", "beyond_absolute_max", "not_requested"]
        ),
    )
    headroom = fields.String(allow_none=True, required=True)
    reason = fields.String(required=True)


class MatchedRuleOut(Schema):
    name = fields.String(required=True)
    effects = fields.List(fields.String(), required=True)
    because = fields.String(allow_none=True, required=True)


class EvalErrorOut(Schema):
    source = fields.String(required=True)
    message = fields.String(required=True)


class PeriodOut(Schema):
    fiscal_year = fields.Integer(required=True)
    fiscal_quarter = fields.Integer(required=True)
    days_to_quarter_end = fields.Integer(required=True)
    days_to_year_end = fields.Integer(required=True)
    is_quarter_end = fields.Boolean(required=True)
    is_year_end = fields.Boolean(required=True)


class PolicyRefOut(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    sha256 = fields.String(required=True)


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


class DelegateIn(Strict):
    id = fields.String(required=True, validate=ID)
    from_ = IsoDate(data_key="from")
    to = IsoDate()


class PersonIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=256))
    tier = fields.String(required=True, validate=ID)
    manager_id = fields.String(allow_none=True, validate=ID)
    active = StrictBoolean()
    email = fields.String(allow_none=True, validate=validate.Length(max=320))
    delegate = fields.Nested(DelegateIn, allow_none=True)


class DelegateOut(Schema):
    id = fields.String(required=True)
    from_ = fields.String(data_key="from", allow_none=True, required=True)
    to = fields.String(allow_none=True, required=True)


class PersonOut(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    tier = fields.String(required=True)
    manager_id = fields.String(allow_none=True, required=True)
    active = fields.Boolean(required=True)
    email = fields.String(allow_none=True, required=True)
    delegate = fields.Nested(DelegateOut, allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class PageQuery(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(max=512))


class PeoplePage(Schema):
    items = fields.List(fields.Nested(PersonOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class EventsQuery(Strict):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class EventOut(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    type = fields.String(required=True)
    actor = fields.String(required=True)
    subject = fields.String(required=True)
    payload = fields.Dict(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class EventsPage(Schema):
    items = fields.List(fields.Nested(EventOut), required=True)
    next_cursor = fields.Integer(allow_none=True, required=True)


class VerifyOut(Schema):
    ok = fields.Boolean(required=True)
    events = fields.Integer(required=True)
    head_hash = fields.String(required=True)
    first_bad_event_id = fields.Integer(allow_none=True, required=True)


class PolicyOut(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    sha256 = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "shadow"]))
    loaded_at = fields.DateTime(required=True)
    agreement = fields.Nested(
        "AgreementOut",
        allow_none=True,
        required=True,
        metadata={"description": "Shadow only: how often it decided as the active policy did."},
    )


class PoliciesPage(Schema):
    items = fields.List(fields.Nested(PolicyOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class Health(Schema):
    status = fields.String(required=True)


class ProblemOut(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


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
COMMENT = validate.Length(min=1, max=10_000)
JUSTIFICATION = validate.Length(
    min=20, max=10_000, error="Must be 20 to 10000 characters: say why, for the auditors."
)


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


class StepOut(Schema):
    tier = fields.String(required=True)
    approver_id = fields.String(allow_none=True, required=True)
    state = fields.String(
        required=True, validate=validate.OneOf(["pending", "approved", "rejected", "returned"])
    )
    acted_by = fields.String(allow_none=True, required=True)
    acted_at = fields.DateTime(allow_none=True, required=True)
    comment = fields.String(allow_none=True, required=True)


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
    value = fields.String(required=True)
    approvable_max = fields.String(required=True)
    excess = fields.String(required=True)


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
        keys=fields.String(), values=fields.String(allow_none=True), required=True
    )
    terms_after = fields.Dict(
        keys=fields.String(), values=fields.String(allow_none=True), required=True
    )
    excess = fields.List(fields.Nested(ExcessOut), required=True)
    excess_value = fields.String(required=True)
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


class OverridesQuery(PageQuery):
    from_ = IsoDate(data_key="from")
    to = IsoDate()
    fiscal_year = fields.Integer(validate=validate.Range(min=1900, max=9999))
    fiscal_quarter = fields.Integer(validate=validate.Range(min=1, max=4))
    executive_id = fields.String(validate=ID)
    owner_id = fields.String(validate=ID)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    review_status = fields.String(validate=validate.OneOf(REVIEW_STATUSES))
    period_end = fields.Boolean()


class OverridesPage(Schema):
    items = fields.List(fields.Nested(OverrideOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class SummaryQuery(Strict):
    group_by = fields.String(
        required=True, validate=validate.OneOf(["executive", "owner", "fiscal_quarter"])
    )
    from_ = IsoDate(data_key="from")
    to = IsoDate()


class SummaryRowOut(Schema):
    key = fields.String(required=True)
    count = fields.Integer(required=True)
    period_end_count = fields.Integer(required=True)
    excess_value = fields.String(required=True)
    pending_review = fields.Integer(required=True)


class SummaryOut(Schema):
    items = fields.List(fields.Nested(SummaryRowOut), required=True)


class AcknowledgeIn(Strict):
    owner_id = fields.String(required=True, validate=ID)


class ReviewIn(Strict):
    reviewer_id = fields.String(required=True, validate=ID)
    status = fields.String(required=True, validate=validate.OneOf(REVIEW_STATUSES[1:]))
    note = fields.String(required=True, validate=COMMENT)


class AgreementOut(Schema):
    decisions = fields.Integer(required=True)
    agreed = fields.Integer(required=True)
    rate = fields.String(allow_none=True, required=True)


class SimulateIn(Strict):
    policy = fields.String(required=True, validate=validate.Length(min=1, max=512 * 1024))
    from_ = IsoDate(data_key="from")
    to = IsoDate()


class OutcomeOut(Schema):
    outcome = fields.String(required=True)
    required_tiers = fields.List(fields.String(), required=True)


class SampleOut(Schema):
    decision_id = fields.String(required=True)
    deal_id = fields.String(required=True)
    as_of = fields.Date(required=True)
    before = fields.Nested(OutcomeOut, required=True)
    after = fields.Nested(OutcomeOut, required=True)


class LoadOut(Schema):
    before = fields.Integer(required=True)
    after = fields.Integer(required=True)
    delta = fields.Integer(required=True)


class SimulateOut(Schema):
    policy = fields.Nested(PolicyRefOut, required=True)
    evaluated = fields.Integer(required=True)
    changed = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    transitions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    approval_load = fields.Dict(keys=fields.String(), values=fields.Nested(LoadOut), required=True)
    samples = fields.List(fields.Nested(SampleOut), required=True)
