"""Notifications: the mail sent, skipped or failed, one per event and recipient."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.http.schemas.common import PageQuery
from api.mail.recipients import MAILED

INT64 = {"format": "int64"}
NOTIFICATION_STATUSES = ["pending", "sent", "skipped", "failed"]
STATUS_DOC = (
    "`sent` (the SMTP server accepted it), `skipped` (the person has no email in the "
    "registry), `failed` (refused for good, or out of retries), or `pending` (not yet "
    "sent: waiting for the dispatcher or for a retry)."
)


class NotificationOut(Schema):
    id = fields.Integer(required=True, metadata=INT64)
    person_id = fields.String(required=True)
    email = fields.String(allow_none=True, required=True)
    event_type = fields.String(required=True)
    event_id = fields.String(required=True)
    subject = fields.String(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(NOTIFICATION_STATUSES),
        metadata={"description": STATUS_DOC},
    )
    attempts = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)


class NotificationsQuery(PageQuery):
    person_id = fields.String(validate=validate.Length(min=1, max=200))
    event_type = fields.String(validate=validate.OneOf(sorted(MAILED)))
    status = fields.String(validate=validate.OneOf(NOTIFICATION_STATUSES))


class NotificationsPage(Schema):
    items = fields.List(fields.Nested(NotificationOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
