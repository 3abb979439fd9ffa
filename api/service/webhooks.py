"""Webhook subscriptions and deliveries: every subscription change is an audit event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from api.audit.chain import Event
from api.dispatch.egress import Egress, check_url
from api.errors import Conflict, Invalid, NotFound
from api.events.envelope import Envelope
from api.events.signing import new_secret
from api.events.types import ALL_TYPES, WILDCARD, EventType
from api.policy.decision import iso_utc
from api.service.sealing import SecretBox
from api.storage import audit, deliveries, outbox
from api.storage import webhooks as store

ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Context:
    now: datetime
    actor: str
    box: SecretBox
    egress: Egress


def subscription_json(sub: store.Subscription, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": sub.id,
        "url": sub.url,
        "event_types": list(sub.event_types),
        "description": sub.description,
        "enabled": sub.enabled,
        "disabled_reason": sub.disabled_reason,
        "created_at": iso_utc(sub.created_at),
        "updated_at": iso_utc(sub.updated_at),
        "last_success_at": iso_utc(sub.last_success_at) if sub.last_success_at else None,
        "previous_secret_expires_at": (
            iso_utc(sub.old_secret_until) if sub.old_secret_until else None
        ),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def check_types(event_types: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(event_types))
    unknown = [t for t in wanted if t != WILDCARD and t not in ALL_TYPES]
    if unknown or not wanted:
        raise Invalid(
            "Unknown event types.",
            {
                "event_types": [
                    f"Choose from {', '.join(ALL_TYPES)} or '*'; "
                    f"unknown: {', '.join(unknown) or '(none given)'}"
                ]
            },
        )
    return wanted


def create(
    conn: psycopg.Connection,
    ctx: Context,
    url: str,
    event_types: Sequence[str],
    description: str | None,
) -> tuple[store.Subscription, str]:
    types = check_types(event_types)
    check_url(url, ctx.egress)
    secret = new_secret()
    sub = store.insert(conn, url, types, description, ctx.box.seal(secret), ctx.now)
    _audit(conn, ctx, "webhook.subscription_created", sub, {"url": url, "event_types": types})
    return sub, secret


def find(conn: psycopg.Connection, sub_id: int, *, lock: bool = False) -> store.Subscription:
    sub = store.get(conn, sub_id, lock=lock)
    if sub is None:
        raise NotFound(f"No webhook subscription {sub_id}.")
    return sub


def change(
    conn: psycopg.Connection, ctx: Context, sub_id: int, changes: dict[str, Any]
) -> store.Subscription:
    sub = find(conn, sub_id, lock=True)
    if "url" in changes:
        check_url(changes["url"], ctx.egress)
    fields = {
        "id": sub.id,
        "url": changes.get("url", sub.url),
        "event_types": check_types(changes["event_types"])
        if "event_types" in changes
        else sub.event_types,
        "description": changes.get("description", sub.description),
        "enabled": changes.get("enabled", sub.enabled),
        "disabled_reason": "disabled by PATCH" if sub.enabled else sub.disabled_reason,
        "now": ctx.now,
    }
    updated = store.update(conn, fields)
    _audit(conn, ctx, "webhook.subscription_updated", updated, _jsonable(changes))
    return updated


def delete(conn: psycopg.Connection, ctx: Context, sub_id: int) -> None:
    sub = find(conn, sub_id, lock=True)
    store.delete(conn, sub.id, ctx.now)
    _audit(conn, ctx, "webhook.subscription_deleted", sub, {"url": sub.url})


def rotate(conn: psycopg.Connection, ctx: Context, sub_id: int) -> tuple[store.Subscription, str]:
    """A new secret; the old one keeps signing beside it for 24 hours."""
    find(conn, sub_id, lock=True)
    secret = new_secret()
    until = ctx.now + ROTATION_OVERLAP
    sub = store.rotate(conn, sub_id, ctx.box.seal(secret), until, ctx.now)
    _audit(conn, ctx, "webhook.secret_rotated", sub, {"old_secret_until": iso_utc(until)})
    return sub, secret


def send_test(conn: psycopg.Connection, ctx: Context, sub_id: int) -> Envelope:
    sub = find(conn, sub_id)
    if not sub.enabled:
        raise Conflict("The subscription is disabled; enable it with PATCH first.")
    event = _audit(conn, ctx, "webhook.test_requested", sub, {})
    data = {"subscription_id": sub.id, "message": "A test event from dealdesk."}
    return outbox.emit(
        conn, EventType.WEBHOOK_TEST, event.id, event.at, data, only_subscription=sub.id
    )


def redeliver(conn: psycopg.Connection, ctx: Context, delivery_id: int) -> deliveries.Delivery:
    found = deliveries.get(conn, delivery_id)
    if found is None:
        raise NotFound(f"No webhook delivery {delivery_id}.")
    sub = store.get(conn, found.subscription_id)
    if sub is None or not sub.enabled:
        raise Conflict("The delivery's subscription is disabled or deleted; enable it first.")
    if found.status == "pending" and found.lease_until and found.lease_until > ctx.now:
        raise Conflict("The delivery is being sent right now.")
    deliveries.redeliver(conn, delivery_id, ctx.now)
    audit.append_event(
        conn,
        "webhook.redelivery_requested",
        ctx.actor,
        f"webhook_delivery:{delivery_id}",
        {"delivery_id": delivery_id, "event_id": found.event_id},
    )
    again = deliveries.get(conn, delivery_id)
    assert again is not None
    return again


def delivery_json(
    d: deliveries.Delivery, attempts: list[deliveries.Attempt] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": d.id,
        "event_id": d.event_id,
        "sequence": d.sequence,
        "subscription_id": d.subscription_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempt_count": d.attempt_count,
        "next_attempt_at": iso_utc(d.next_attempt_at) if d.status == "pending" else None,
        "created_at": iso_utc(d.created_at),
        "delivered_at": iso_utc(d.delivered_at) if d.delivered_at else None,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
    }
    if attempts is not None:
        body["attempts"] = [
            {
                "at": iso_utc(a.at),
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "error": a.error,
            }
            for a in attempts
        ]
    return body


def _audit(
    conn: psycopg.Connection,
    ctx: Context,
    type_: str,
    sub: store.Subscription,
    payload: dict[str, Any],
) -> Event:
    """Never the secret: only what changed."""
    return audit.append_event(
        conn, type_, ctx.actor, f"webhook_subscription:{sub.id}", {"id": sub.id, **payload}
    )


def _jsonable(changes: dict[str, Any]) -> dict[str, Any]:
    kept = ("url", "event_types", "enabled", "description")
    return {k: v for k, v in changes.items() if k in kept}
