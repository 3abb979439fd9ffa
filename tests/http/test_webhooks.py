"""Webhooks end to end: the real app, a real dispatcher thread, a real receiver on 127.0.0.1,
and every delivery verified by the standardwebhooks package."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from api.config import Settings
from api.dispatch.worker import Dispatcher
from tests.http.conftest import deal
from tests.webhooks.receiver import Receiver, running, verified

LIVE = pytest.mark.usefixtures("org", "dispatcher")  # the people, and a dispatcher running
ALLOW = {"webhook_allow_nets": ("127.0.0.0/8", "::1/128"), "webhook_allow_http": True}


@pytest.fixture()
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        secret_key="test-secret-key-of-enough-length-0123456789",
        webhook_retry_schedule=(0.2, 0.2, 0.2),
        webhook_timeout_s=1.0,
        webhook_connect_timeout_s=1.0,
        **ALLOW,
    )


@pytest.fixture()
def dispatcher(settings: Settings, db: str) -> Iterator[Dispatcher]:
    worker = Dispatcher(settings, db, threads=4)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=10)


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with running(Receiver()) as r:
        yield r


def subscribe(
    client: FlaskClient, admin: dict[str, str], url: str, types: list[str] | None = None
) -> dict[str, Any]:
    response = client.post(
        "/v1/webhook-subscriptions", json={"url": url, "event_types": types or ["*"]}, headers=admin
    )
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json
    return body


def rows(db: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def settled(client: FlaskClient, admin: dict[str, str], status: str) -> dict[str, Any]:
    """The only delivery, once the dispatcher has saved it in `status`."""
    deadline = time.monotonic() + 10
    while True:
        items = client.get("/v1/webhook-deliveries", headers=admin).json["items"]
        if (items and items[0]["status"] == status) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(items) == 1 and items[0]["status"] == status, items
    one: dict[str, Any] = client.get(f"/v1/webhook-deliveries/{items[0]['id']}", headers=admin).json
    return one


def disabled(client: FlaskClient, admin: dict[str, str], sub: dict[str, Any]) -> dict[str, Any]:
    """The subscription once the dispatcher has disabled it (or as it is after 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        shown: dict[str, Any] = client.get(
            f"/v1/webhook-subscriptions/{sub['id']}", headers=admin
        ).json
        if not shown["enabled"] or time.monotonic() > deadline:
            return shown
        time.sleep(0.05)


def send_test(client: FlaskClient, admin: dict[str, str], sub: dict[str, Any]) -> dict[str, Any]:
    """Queue a `webhook.test` event for the subscription."""
    sent = client.post(f"/v1/webhook-subscriptions/{sub['id']}/test", headers=admin)
    assert sent.status_code == 202, sent.json
    body: dict[str, Any] = sent.json
    return body


@pytest.fixture()
def everything(client: FlaskClient, admin: dict[str, str], receiver: Receiver) -> dict[str, Any]:
    """A subscription to every event type, delivering to the receiver."""
    return subscribe(client, admin, receiver.url)


@pytest.fixture()
def tests_only(client: FlaskClient, admin: dict[str, str], receiver: Receiver) -> dict[str, Any]:
    """A subscription to `webhook.test` alone, delivering to the receiver."""
    return subscribe(client, admin, receiver.url, ["webhook.test"])


def submit(client: FlaskClient, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"deal": deal(discount_pct="12", **fields), "requested_by": "am.jones"}
    response = client.post("/v1/approval-requests", json=body, headers=admin)
    assert response.status_code == 201, response.json
    result: dict[str, Any] = response.json
    return result


@LIVE
def test_submit_then_approve_arrives_signed_in_sequence_order(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    db: str,
    everything: dict[str, Any],
) -> None:
    sub = everything
    assert sub["secret"].startswith("whsec_") and len(sub["secret"]) == 6 + 44
    request = submit(client, admin)
    approve = client.post(
        f"/v1/approval-requests/{request['id']}/approve",
        json={"approver_id": "sm.lee"},
        headers=admin,
    )
    assert approve.status_code == 200, approve.json
    got = receiver.wait_for(3)
    events = [verified(r, sub["secret"]) for r in got]
    assert [e["type"] for e in events] == [
        "approval_request.submitted",
        "approval_step.assigned",
        "approval_request.decided",
    ]
    audit = rows(
        db,
        "SELECT id, type FROM audit_events WHERE subject = %s ORDER BY id",
        f"request:{request['id']}",
    )
    assert [e["sequence"] for e in events] == [audit[0][0], audit[0][0], audit[1][0]]
    assert [t for _, t in audit] == ["request.submitted", "request.approve"]
    assert events[1]["data"]["current_step"] == {
        "seq": 0,
        "tier": "sales_manager",
        "approver_id": "sm.lee",
    }
    assert events[2]["data"]["state"] == "approved"
    assert events[2]["data"] == approve.json | {"current_step": None}
    assert {r.headers["webhook-id"] for r in got} == {e["id"] for e in events}
    assert list(events[0]) == ["id", "type", "created_at", "sequence", "data"]


@pytest.mark.parametrize(
    ("approver", "body", "status"),
    [
        ("am.kim", {"approver_id": "am.kim"}, 403),
        ("missing", {}, 422),
    ],
    ids=["not-the-approver-403", "no-approver-422"],
)
@LIVE
def test_a_refused_action_sends_nothing(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    db: str,
    approver: str,
    body: dict[str, str],
    status: int,
    everything: dict[str, Any],
) -> None:
    request = submit(client, admin)
    receiver.wait_for(2)
    before = rows(db, "SELECT count(*) FROM webhook_events")[0][0]
    refused = client.post(
        f"/v1/approval-requests/{request['id']}/approve", json=body, headers=admin
    )
    assert refused.status_code == status, refused.json
    assert rows(db, "SELECT count(*) FROM webhook_events")[0][0] == before
    send_test(client, admin, everything)
    got = receiver.wait_for(3)
    assert [r.event["type"] for r in got] == [
        "approval_request.submitted",
        "approval_step.assigned",
        "webhook.test",
    ]


@LIVE
def test_a_conflict_sends_nothing(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    db: str,
    everything: dict[str, Any],
) -> None:
    request = submit(client, admin)
    path = f"/v1/approval-requests/{request['id']}/withdraw"
    withdraw = {"requested_by": "am.jones", "reason": "no"}
    assert client.post(path, json=withdraw, headers=admin).status_code == 200
    again = client.post(path, json=withdraw, headers=admin)
    assert again.status_code == 409
    got = receiver.wait_for(3)
    time.sleep(0.5)
    assert [r.event["type"] for r in receiver.received] == [
        "approval_request.submitted",
        "approval_step.assigned",
        "approval_request.decided",
    ]
    assert got[2].event["data"]["state"] == "withdrawn"
    assert rows(db, "SELECT count(*) FROM webhook_events")[0][0] == 3


def delivery_metrics(client: FlaskClient, admin: dict[str, str]) -> dict[str, float]:
    """/metrics' delivery counts by result, and how many lags were observed."""
    text = client.get("/metrics", headers=admin).data.decode()
    samples = {
        (s.name, s.labels.get("result", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return {
        "retry": samples.get(("dealdesk_webhook_deliveries_total", "retry"), 0.0),
        "delivered": samples.get(("dealdesk_webhook_deliveries_total", "delivered"), 0.0),
        "lags": samples.get(("dealdesk_webhook_delivery_lag_seconds_count", ""), 0.0),
    }


@LIVE
def test_500_500_200_is_one_success_with_identical_bytes(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    tests_only: dict[str, Any],
) -> None:
    sub = tests_only
    receiver.answers = [(500, 0, {}), (500, 0, {})]
    before = delivery_metrics(client, admin)
    sent = send_test(client, admin, sub)
    got = receiver.wait_for(1)
    settled(client, admin, "delivered")
    time.sleep(0.5)
    after = delivery_metrics(client, admin)
    assert {k: after[k] - before[k] for k in after} == {"retry": 2, "delivered": 1, "lags": 3}
    assert len(receiver.received) == 1
    tries = [seen for seen, _, _ in receiver.requests]
    assert [status for _, status, _ in receiver.requests] == [500, 500, 200]
    assert len({t.body for t in tries}) == 1
    assert {t.headers["webhook-id"] for t in tries} == {sent["event_id"]}
    assert verified(got[0], sub["secret"])["type"] == "webhook.test"
    listed = client.get(f"/v1/webhook-deliveries?subscription_id={sub['id']}", headers=admin).json[
        "items"
    ]
    assert [(d["status"], d["attempt_count"], d["last_status_code"]) for d in listed] == [
        ("delivered", 3, 200)
    ]
    one = client.get(f"/v1/webhook-deliveries/{listed[0]['id']}", headers=admin).json
    assert [(a["status_code"], a["error"]) for a in one["attempts"]] == [
        (500, None),
        (500, None),
        (200, None),
    ]


@LIVE
def test_410_disables_the_subscription(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    db: str,
    tests_only: dict[str, Any],
) -> None:
    receiver.answers = [(410, 0, {})]
    send_test(client, admin, tests_only)
    shown = disabled(client, admin, tests_only)
    assert shown["enabled"] is False
    assert shown["disabled_reason"] == "the receiver answered 410 Gone"
    listed = client.get("/v1/webhook-deliveries?status=failed", headers=admin).json["items"]
    assert [(d["last_status_code"], d["attempt_count"]) for d in listed] == [(410, 1)]
    assert rows(
        db,
        "SELECT actor, payload->>'reason' FROM audit_events WHERE type = %s",
        "webhook.subscription_disabled",
    ) == [("system:dispatcher", "the receiver answered 410 Gone")]


@LIVE
def test_a_slow_receiver_times_out_and_is_retried(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    tests_only: dict[str, Any],
) -> None:
    receiver.answers = [(200, 2.0, {})]
    send_test(client, admin, tests_only)
    receiver.wait_for(1)
    one = settled(client, admin, "delivered")
    assert [(a["status_code"], a["error"]) for a in one["attempts"]] == [
        (None, "timed out"),
        (200, None),
    ]
    assert 900 <= one["attempts"][0]["duration_ms"] < 1900
    assert one["status"] == "delivered"


@LIVE
def test_rotation_signs_with_both_secrets_during_the_overlap(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    tests_only: dict[str, Any],
) -> None:
    sub = tests_only
    rotated = client.post(f"/v1/webhook-subscriptions/{sub['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    new = rotated.json["secret"]
    assert new != sub["secret"] and rotated.json["previous_secret_expires_at"] is not None
    send_test(client, admin, sub)
    got = receiver.wait_for(1)[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert verified(got, new)["type"] == "webhook.test"
    assert verified(got, sub["secret"])["type"] == "webhook.test"
    assert "secret" not in client.get(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin).json


@LIVE
def test_a_redirect_is_not_followed_and_retry_after_is_honoured(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    tests_only: dict[str, Any],
) -> None:
    receiver.answers = [
        (302, 0, {"Location": "http://127.0.0.1:9/elsewhere"}),
        (503, 0, {"Retry-After": "2"}),
    ]
    send_test(client, admin, tests_only)
    receiver.wait_for(1, timeout=20)
    one = settled(client, admin, "delivered")
    assert [a["status_code"] for a in one["attempts"]] == [302, 503, 200]
    times = [seen.at for seen, _, _ in receiver.requests]
    assert times[2] - times[1] >= 1.9
    assert [seen.headers["x-path"] for seen, _, _ in receiver.requests] == ["/hooks"] * 3


@LIVE
def test_no_success_for_5_days_disables_the_subscription(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    db: str,
    tests_only: dict[str, Any],
) -> None:
    with psycopg.connect(db) as conn:
        conn.execute(
            "UPDATE webhook_subscriptions SET failing_since = now() - interval '5 days 1 minute'"
        )
    receiver.answers = [(500, 0, {})]
    send_test(client, admin, tests_only)
    shown = disabled(client, admin, tests_only)
    assert (shown["enabled"], shown["disabled_reason"]) == (
        False,
        "no successful delivery in 5 days",
    )
    time.sleep(0.5)
    assert receiver.received == []
    assert rows(
        db,
        "SELECT payload->>'reason' FROM audit_events WHERE type = %s",
        "webhook.subscription_disabled",
    ) == [("no successful delivery in 5 days",)]


def test_the_address_is_checked_again_when_sending(
    client: FlaskClient,
    admin: dict[str, str],
    receiver: Receiver,
    settings: Settings,
    db: str,
    tests_only: dict[str, Any],
) -> None:
    """Saved while loopback was allowed; a dispatcher without the allow-list refuses to send."""
    strict = dataclasses.replace(settings, webhook_allow_nets=())
    worker = Dispatcher(strict, db, threads=1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        send_test(client, admin, tests_only)
        one = settled(client, admin, "failed")
    finally:
        worker.stop.set()
        thread.join(timeout=10)
    assert [(a["status_code"], a["error"]) for a in one["attempts"]] == [
        (
            None,
            "blocked: The host '127.0.0.1' resolves to 127.0.0.1, which is not a public address.",
        )
    ]
    assert receiver.requests == []
