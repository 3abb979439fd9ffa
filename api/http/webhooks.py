"""Webhook subscriptions (create, list, read, change, delete, rotate, test) and deliveries."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from api.config import Settings
from api.dispatch.egress import Egress
from api.errors import NotFound
from api.http.auth import Scope, current_key, requires
from api.http.body import json_body
from api.http.context import runtime
from api.http.replies import id_after, next_id_cursor, reply
from api.http.schemas.common import PageQuery
from api.http.schemas.webhooks import (
    DeliveriesPage,
    DeliveriesQuery,
    DeliveryOut,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatchIn,
    SubscriptionsPage,
    TestEventOut,
)
from api.http.spec import body, problems
from api.http.uow import unit_of_work
from api.service import webhooks as service
from api.service.sealing import SecretBox, secret_box
from api.storage import deliveries
from api.storage import webhooks as store

blp = Blueprint("webhooks", __name__, description="Signed webhooks: subscriptions, deliveries")
SUBSCRIPTION_IN, PATCH_IN = SubscriptionIn(), SubscriptionPatchIn()
BASE = "/v1/webhook-subscriptions"


@lru_cache(maxsize=8)
def _tools(settings: Settings) -> tuple[SecretBox, Egress]:
    return secret_box(settings), Egress.parse(
        settings.webhook_allow_nets, settings.webhook_allow_http
    )


def context() -> service.Context:
    rt = runtime()
    box, egress = _tools(rt.settings)
    return service.Context(rt.now(), current_key().actor, box, egress)


def path_id(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise NotFound(f"No {what} {text!r}.")
    return int(text)


@blp.route(BASE, methods=["POST"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="createWebhookSubscription", requestBody=body(SubscriptionIn))
@blp.response(201, SubscriptionOut)
@problems(blp, 400, 413, 415, 422, 503)
def create() -> Response:
    """Subscribe a URL (https, public address) to event types; the secret is shown only now."""
    ctx = context()
    data = json_body(SUBSCRIPTION_IN)
    with unit_of_work() as conn:
        sub, secret = service.create(
            conn, ctx, data["url"], data["event_types"], data.get("description")
        )
    return reply(service.subscription_json(sub, secret), 201, {"Location": f"{BASE}/{sub.id}"})


@blp.route(BASE, methods=["GET"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="listWebhookSubscriptions")
@blp.arguments(PageQuery, location="query")
@blp.response(200, SubscriptionsPage)
@problems(blp, 422, 503)
def index(query: dict[str, Any]) -> Response:
    limit = query["limit"]
    with unit_of_work() as conn:
        rows = store.page(conn, id_after(query), limit + 1)
    return reply(
        {
            "items": [service.subscription_json(s) for s in rows[:limit]],
            "next_cursor": next_id_cursor(rows, limit),
        }
    )


@blp.route(f"{BASE}/<string:sub_id>", methods=["GET"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="getWebhookSubscription")
@blp.response(200, SubscriptionOut)
@problems(blp, 404, 503)
def get(sub_id: str) -> Response:
    with unit_of_work() as conn:
        sub = service.find(conn, path_id(sub_id, "webhook subscription"))
    return reply(service.subscription_json(sub))


@blp.route(f"{BASE}/<string:sub_id>", methods=["PATCH"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="updateWebhookSubscription", requestBody=body(SubscriptionPatchIn))
@blp.response(200, SubscriptionOut)
@problems(blp, 400, 404, 413, 415, 422, 503)
def patch(sub_id: str) -> Response:
    """Change `url`, `event_types`, `description` or `enabled` (true re-enables)."""
    ctx = context()
    sid = path_id(sub_id, "webhook subscription")
    with unit_of_work() as conn:
        service.find(conn, sid)
        changes = json_body(PATCH_IN)
        sub = service.change(conn, ctx, sid, changes)
    return reply(service.subscription_json(sub))


@blp.route(f"{BASE}/<string:sub_id>", methods=["DELETE"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="deleteWebhookSubscription")
@blp.response(204)
@problems(blp, 404, 503)
def delete(sub_id: str) -> Response:
    ctx = context()
    with unit_of_work() as conn:
        service.delete(conn, ctx, path_id(sub_id, "webhook subscription"))
    return Response(status=204)


@blp.route(f"{BASE}/<string:sub_id>/rotate-secret", methods=["POST"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="rotateWebhookSecret")
@blp.response(200, SubscriptionOut)
@problems(blp, 404, 503)
def rotate(sub_id: str) -> Response:
    """A new secret, shown once; the old one keeps signing beside it for 24 hours."""
    ctx = context()
    with unit_of_work() as conn:
        sub, secret = service.rotate(conn, ctx, path_id(sub_id, "webhook subscription"))
    return reply(service.subscription_json(sub, secret))


@blp.route(f"{BASE}/<string:sub_id>/test", methods=["POST"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="testWebhookSubscription")
@blp.response(202, TestEventOut)
@problems(blp, 404, 409, 503)
def test(sub_id: str) -> Response:
    """Queue a `webhook.test` event for this subscription alone."""
    ctx = context()
    with unit_of_work() as conn:
        envelope = service.send_test(conn, ctx, path_id(sub_id, "webhook subscription"))
    return reply({"event_id": envelope.id, "sequence": envelope.sequence}, 202)


@blp.route("/v1/webhook-deliveries", methods=["GET"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="listWebhookDeliveries")
@blp.arguments(DeliveriesQuery, location="query")
@blp.response(200, DeliveriesPage)
@problems(blp, 422, 503)
def deliveries_index(query: dict[str, Any]) -> Response:
    """Deliveries, oldest first, by subscription, status and event type."""
    limit = query["limit"]
    filters = {
        "after": id_after(query),
        "limit": limit + 1,
        "subscription_id": query.get("subscription_id"),
        "status": query.get("status"),
        "event_type": query.get("event_type"),
    }
    with unit_of_work() as conn:
        rows = deliveries.page(conn, filters)
    return reply(
        {
            "items": [service.delivery_json(d) for d in rows[:limit]],
            "next_cursor": next_id_cursor(rows, limit),
        }
    )


@blp.route("/v1/webhook-deliveries/<string:delivery_id>", methods=["GET"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="getWebhookDelivery")
@blp.response(200, DeliveryOut)
@problems(blp, 404, 503)
def delivery(delivery_id: str) -> Response:
    """One delivery with every attempt (status_code null when nothing answered)."""
    did = path_id(delivery_id, "webhook delivery")
    with unit_of_work() as conn:
        found = deliveries.get(conn, did)
        if found is None:
            raise NotFound(f"No webhook delivery {did}.")
        tries = deliveries.attempts(conn, did)
    return reply(service.delivery_json(found, tries))


@blp.route("/v1/webhook-deliveries/<string:delivery_id>/redeliver", methods=["POST"])
@requires(Scope.WEBHOOKS)
@blp.doc(operationId="redeliverWebhookDelivery")
@blp.response(202, DeliveryOut)
@problems(blp, 404, 409, 503)
def redeliver(delivery_id: str) -> Response:
    """Send it again now, with the same body and `webhook-id`, on a fresh retry schedule."""
    ctx = context()
    did = path_id(delivery_id, "webhook delivery")
    with unit_of_work() as conn:
        again = service.redeliver(conn, ctx, did)
        tries = deliveries.attempts(conn, did)
    return reply(service.delivery_json(again, tries), 202)
