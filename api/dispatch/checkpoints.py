"""`audit.checkpoint` events: every N audit events, and hourly when any event was appended.

A checkpoint names an event and its hash; anyone who keeps it outside the database can later
ask `GET /v1/audit/verify?checkpoint_id=&checkpoint_hash=` whether the chain still holds it,
which catches the deletion of the newest events (something the chain alone cannot show).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg_pool import ConnectionPool

from api.events.types import EventType
from api.storage import checkpoints, outbox
from api.storage.database import transaction

HOURLY = timedelta(hours=1)


def maybe_seal(pool: ConnectionPool, every: int, now: datetime | None = None) -> int | None:
    """Seal the due event, if any, and announce it; the sealed event id, else None."""
    now = now or datetime.now(UTC)
    with transaction(pool) as conn:
        checkpoints.lock(conn)
        last = checkpoints.last_sealed(conn)
        newest = checkpoints.head(conn)
        if newest <= last:
            return None
        target = (newest // every) * every
        if target <= last:
            first = checkpoints.first_after(conn, last)
            if first is None or now - first < HOURLY:
                return None
            target = newest
        found = checkpoints.event_at_or_before(conn, target)
        if found is None or found[0] <= last:
            return None
        event_id, hash_, events = found
        if not checkpoints.record(conn, event_id, hash_, events, now):
            return None
        data = {"event_id": event_id, "hash": hash_, "events": events}
        outbox.emit(conn, EventType.AUDIT_CHECKPOINT, event_id, now, data)
        return event_id
