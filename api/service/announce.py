"""Which events a change publishes, with `data` as GET of the subject returns it."""

from __future__ import annotations

import psycopg

from api.audit.chain import Event
from api.events.types import EventType, announced_by
from api.service.resources import request_json
from api.storage.outbox import emit_for
from api.storage.requests import RequestRecord


def request_changed(
    conn: psycopg.Connection, audit_event: Event, record: RequestRecord, *, submitted: bool = False
) -> None:
    """`submitted` first (on submission), then the event of the state the request is now in."""
    data = request_json(record)
    if submitted:
        emit_for(conn, audit_event, EventType.REQUEST_SUBMITTED, data)
    follow = announced_by(record.request_state)
    if follow is not None:
        emit_for(conn, audit_event, follow, data)
