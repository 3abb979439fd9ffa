"""Shared pieces of the schemas: id lengths, the strict base, parties, periods, problems."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

ID = (
    validate.Length(min=1, max=128),
    # PostgreSQL text cannot hold NUL: refused here, by name, rather than by the database
    # (too late for a CSV export already streaming).
    validate.Regexp(r"^[^\x00]*$", error="must not contain a NUL character"),
)

TEXT = validate.Length(max=10_000)


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class DateRange:
    """Mixin for a query with `from` and `to` dates: `from` after `to` is an error on both
    fields (an empty answer would look like "nothing happened" to a finance reader)."""

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        if start is not None and end is not None and start > end:
            raise ValidationError(
                {
                    "from": [f"Must be on or before to ({end})."],
                    "to": [f"Is before from ({start})."],
                }
            )


class PartyOut(Schema):
    id = fields.String(required=True)
    tier = fields.String(required=True)


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


class PageQuery(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(max=512))


class Health(Schema):
    status = fields.String(required=True)
    generation = fields.Integer(
        metadata={
            "format": "int64",
            "description": "/readyz: the policy set generation this worker decides under.",
        }
    )


class ProblemOut(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


COMMENT = validate.Length(min=1, max=10_000)

JUSTIFICATION = validate.Length(
    min=20, max=10_000, error="Must be 20 to 10000 characters: say why, for the auditors."
)
