"""Policies in force, shadow agreement, and simulate."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.http.fields import IsoDate, decimal_out
from api.http.schemas.common import DateRange, PolicyRefOut, Strict


class PolicyOut(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    sha256 = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "shadow"]))
    loaded_at = fields.DateTime(
        required=True, metadata={"description": "When the set holding it came into force."}
    )
    agreement = fields.Nested(
        "AgreementOut",
        allow_none=True,
        required=True,
        metadata={"description": "Shadow only: how often it decided as the active policy did."},
    )


class PoliciesPage(Schema):
    items = fields.List(fields.Nested(PolicyOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    generation = fields.Integer(
        required=True,
        metadata={
            "format": "int64",
            "description": "The set in force, from the database: it rises by one at each "
            "publish, and is the same on every instance (0: nothing published yet).",
        },
    )
    published_at = fields.DateTime(allow_none=True, required=True)
    published_by = fields.String(allow_none=True, required=True)


class AgreementOut(Schema):
    decisions = fields.Integer(required=True)
    agreed = fields.Integer(required=True)
    rate = decimal_out(allow_none=True, required=True)


class SimulateIn(DateRange, Strict):
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
