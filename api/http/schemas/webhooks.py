"""Webhook subscriptions and deliveries."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.events.types import ALL_TYPES, WILDCARD
from api.http.schemas.common import PageQuery, Strict

INT64 = {"format": "int64"}
URL = validate.Length(min=1, max=2048)
DELIVERY_STATUSES = ["pending", "delivered", "failed"]


class SubscriptionIn(Strict):
    url = fields.String(required=True, validate=URL)
    event_types = fields.List(
        fields.String(validate=validate.OneOf([*ALL_TYPES, WILDCARD])),
        required=True,
        validate=validate.Length(min=1, max=len(ALL_TYPES) + 1),
    )
    description = fields.String(validate=validate.Length(max=1000))


class SubscriptionPatchIn(Strict):
    url = fields.String(validate=URL)
    event_types = fields.List(
        fields.String(validate=validate.OneOf([*ALL_TYPES, WILDCARD])),
        validate=validate.Length(min=1, max=len(ALL_TYPES) + 1),
    )
    enabled = fields.Boolean()
    description = fields.String(validate=validate.Length(max=1000), allow_none=True)


class SubscriptionOut(Schema):
    id = fields.Integer(required=True, metadata=INT64)
    url = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)
    description = fields.String(allow_none=True, required=True)
    enabled = fields.Boolean(required=True)
    disabled_reason = fields.String(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    last_success_at = fields.DateTime(allow_none=True, required=True)
    previous_secret_expires_at = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "Until then the previous secret signs beside the new one."},
    )
    secret = fields.String(
        metadata={"description": "whsec_ + base64 of 32 bytes; shown only on create and rotate."}
    )


class SubscriptionsPage(Schema):
    items = fields.List(fields.Nested(SubscriptionOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class TestEventOut(Schema):
    event_id = fields.String(required=True)
    sequence = fields.Integer(required=True, metadata=INT64)


class AttemptOut(Schema):
    at = fields.DateTime(required=True)
    status_code = fields.Integer(allow_none=True, required=True)
    duration_ms = fields.Integer(required=True)
    error = fields.String(allow_none=True, required=True)


class DeliveryOut(Schema):
    id = fields.Integer(required=True, metadata=INT64)
    event_id = fields.String(required=True)
    sequence = fields.Integer(required=True, metadata=INT64)
    subscription_id = fields.Integer(required=True, metadata=INT64)
    event_type = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES))
    attempt_count = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True, required=True)
    last_status_code = fields.Integer(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    attempts = fields.List(fields.Nested(AttemptOut))


class DeliveriesQuery(PageQuery):
    subscription_id = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1), metadata=INT64)
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    event_type = fields.String(validate=validate.OneOf(list(ALL_TYPES)))


class DeliveriesPage(Schema):
    items = fields.List(fields.Nested(DeliveryOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
