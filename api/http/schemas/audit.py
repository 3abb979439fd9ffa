"""The audit log and its verification."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.http.schemas.common import Strict


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
    checkpoint_ok = fields.Boolean(
        metadata={"description": "Given a checkpoint: the chain still holds that event and hash."}
    )


class VerifyQuery(Strict):
    checkpoint_id = fields.Integer(
        validate=validate.Range(min=1, max=2**63 - 1), metadata={"format": "int64"}
    )
    checkpoint_hash = fields.String(validate=validate.Regexp("^[0-9a-f]{64}$"))

    @validates_schema
    def _both(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("checkpoint_id" in data) != ("checkpoint_hash" in data):
            missing = "checkpoint_hash" if "checkpoint_id" in data else "checkpoint_id"
            raise ValidationError("Give checkpoint_id and checkpoint_hash together.", missing)
