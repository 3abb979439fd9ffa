"""GET /v1/notifications: what was mailed, skipped or failed (scope audit:read)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from api.http.auth import Scope, requires
from api.http.replies import id_after, next_id_cursor, reply
from api.http.schemas.notifications import NotificationsPage, NotificationsQuery
from api.http.spec import problems
from api.http.uow import unit_of_work
from api.policy.decision import iso_utc
from api.storage import notifications
from api.storage.notifications import Notification

blp = Blueprint("notifications", __name__, description="Mail to the people in the loop")


@blp.route("/v1/notifications", methods=["GET"])
@requires(Scope.AUDIT_READ)
@blp.doc(operationId="listNotifications")
@blp.arguments(NotificationsQuery, location="query")
@blp.response(200, NotificationsPage)
@problems(blp, 422, 503)
def index(query: dict[str, Any]) -> Response:
    """Notifications, oldest first, by person, event type and status."""
    limit = query["limit"]
    filters = {
        "after": id_after(query),
        "limit": limit + 1,
        "person_id": query.get("person_id"),
        "event_type": query.get("event_type"),
        "status": query.get("status"),
    }
    with unit_of_work() as conn:
        rows = notifications.page(conn, filters)
    return reply(
        {
            "items": [notification_json(n) for n in rows[:limit]],
            "next_cursor": next_id_cursor(rows, limit),
        }
    )


def notification_json(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "person_id": row.person_id,
        "email": row.email,
        "event_type": row.event_type,
        "event_id": row.event_id,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": iso_utc(row.created_at),
    }
