"""The people registry."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.http.fields import IsoDate, StrictBoolean
from api.http.schemas.common import ID, Strict


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
    from_ = fields.String(
        data_key="from", allow_none=True, required=True, metadata={"format": "date"}
    )
    to = fields.String(allow_none=True, required=True, metadata={"format": "date"})


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


class PeoplePage(Schema):
    items = fields.List(fields.Nested(PersonOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
