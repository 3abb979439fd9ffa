"""The transactional outbox: events and their deliveries, written in the caller's transaction.

`emit` stores the event's exact JSON once and fans it out to every enabled subscription
whose filter matches, in one statement; when any delivery was made it also NOTIFYs
`dealdesk_webhooks`, which PostgreSQL sends only if (and when) the transaction commits, so a
dispatcher wakes at commit and a rolled-back change sends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any

import psycopg

from api.audit.chain import Event
from api.events.envelope import Envelope, build
from api.events.types import WILDCARD, EventType
from api.mail.recipients import MAILED
from api.storage import notifications

CHANNEL = "dealdesk_webhooks"

FAN_OUT = """
WITH e AS (
    INSERT INTO webhook_events (id, sequence, type, created_at, body)
    VALUES (%(id)s, %(sequence)s, %(type)s, %(created_at)s, %(body)s)
    RETURNING id, type, created_at
), d AS (
    INSERT INTO webhook_deliveries (event_id, subscription_id, event_type, next_attempt_at,
                                    created_at)
    SELECT e.id, s.id, e.type, e.created_at, e.created_at
    FROM e JOIN webhook_subscriptions s
      ON s.enabled AND s.deleted_at IS NULL
     AND (%(only)s::bigint IS NULL OR s.id = %(only)s)
     AND s.event_types && ARRAY[e.type, %(wildcard)s]
    RETURNING 1
)
SELECT pg_notify(%(channel)s, '') FROM (SELECT 1 WHERE EXISTS (SELECT 1 FROM d)) AS any_delivery
"""

enabled = True
"""Off only in the benchmark that measures what the outbox write costs."""
mail = False
"""On when DEALDESK_SMTP_URL is set: `configure_mail` from the composition roots (the app,
the dispatcher). Mailed events then also write their notifications in the same statement's
transaction, so a rolled-back change mails nothing."""


def configure_mail(on: bool) -> None:
    global mail
    mail = on


def emit(
    conn: psycopg.Connection,
    type_: EventType,
    sequence: int,
    created_at: datetime,
    data: Mapping[str, Any],
    *,
    only_subscription: int | None = None,
) -> Envelope:
    """Write one event and its deliveries in the caller's transaction (never commits)."""
    envelope = build(type_.value, sequence, created_at, data)
    if enabled:
        mailed = mail and envelope.type in MAILED
        with conn.pipeline() if mailed else nullcontext():  # one round trip for both
            _fan_out(conn, envelope, sequence, created_at, only_subscription)
            if mailed:
                notifications.mail_event(
                    conn, envelope.id, envelope.type, created_at, data, CHANNEL
                )
    return envelope


def _fan_out(
    conn: psycopg.Connection,
    envelope: Envelope,
    sequence: int,
    created_at: datetime,
    only_subscription: int | None,
) -> None:
    conn.execute(
        FAN_OUT,
        {
            "id": envelope.id,
            "sequence": sequence,
            "type": envelope.type,
            "created_at": created_at,
            "body": envelope.body,
            "only": only_subscription,
            "wildcard": WILDCARD,
            "channel": CHANNEL,
        },
    )


def emit_for(
    conn: psycopg.Connection, audit_event: Event, type_: EventType, data: Mapping[str, Any]
) -> Envelope:
    """The event announcing the change `audit_event` recorded: its id is the sequence."""
    return emit(conn, type_, audit_event.id, audit_event.at, data)
