"""A filed override afterwards: looking it up, its owner's acknowledgement and finance's
review, each chained into the audit log and announced to webhook subscribers."""

from __future__ import annotations

import uuid

import psycopg

from api.errors import Forbidden, Invalid, NotFound
from api.events.types import EventType
from api.service.context import Context
from api.service.parties import check_acting_as
from api.service.reports import override_json, review_json
from api.storage import audit
from api.storage import overrides as store
from api.storage.outbox import emit_for
from api.storage.people import get_person


def find(conn: psycopg.Connection, override_id: uuid.UUID) -> store.OverrideRecord:
    record = store.get_override(conn, override_id)
    if record is None:
        raise NotFound(f"No override {override_id}.")
    return record


def acknowledge(
    conn: psycopg.Connection, ctx: Context, override_id: uuid.UUID, owner_id: str
) -> store.OverrideRecord:
    record = find(conn, override_id)
    check_acting_as(ctx.person_id, owner_id, "owner_id")
    if owner_id != record.owner_id:
        raise Forbidden("Only the deal's owner acknowledges an override of their deal.")
    if store.acknowledge(conn, override_id, ctx.now):
        event = audit.append_event(
            conn,
            "override.acknowledged",
            owner_id,
            f"override:{override_id}",
            {"override_id": str(override_id), "via_key": ctx.actor_key},
        )
        data = override_json(find(conn, override_id), store.reviews(conn, override_id))
        emit_for(conn, event, EventType.OVERRIDE_ACKNOWLEDGED, data)
    return find(conn, override_id)


def review(
    conn: psycopg.Connection,
    ctx: Context,
    override_id: uuid.UUID,
    reviewer_id: str,
    status: str,
    note: str,
) -> store.Review:
    record = find(conn, override_id)
    if get_person(conn, reviewer_id) is None:
        raise Invalid(
            "Unknown reviewer.", {"reviewer_id": [f"No person {reviewer_id!r} in the registry."]}
        )
    check_acting_as(ctx.person_id, reviewer_id, "reviewer_id")
    if reviewer_id == record.executive_id:
        raise Forbidden("The executive who made an override can never review it.")
    result = store.add_review(conn, override_id, reviewer_id, status, note, ctx.now)
    event = audit.append_event(
        conn,
        "override.reviewed",
        reviewer_id,
        f"override:{override_id}",
        {
            "override_id": str(override_id),
            "review_id": result.id,
            "status": status,
            "before": record.review_status,
            "note": note,
            "via_key": ctx.actor_key,
        },
    )
    emit_for(conn, event, EventType.OVERRIDE_REVIEWED, review_json(result))
    return result
