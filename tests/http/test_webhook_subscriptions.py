"""Subscriptions and deliveries through the API (no dispatcher running): CRUD, paging, audit
events without secrets, redeliver, the outbox's transaction, and audit checkpoints."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.config import Settings
from api.dispatch.checkpoints import maybe_seal
from api.events.types import EventType
from api.storage import outbox
from api.storage.database import transaction

URL = "http://127.0.0.1:9/hooks"


@pytest.fixture()
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        secret_key="another-test-key-0123456789abcdef0123",
        webhook_allow_nets=("127.0.0.0/8",),
        webhook_allow_http=True,
    )


def create(client: FlaskClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/webhook-subscriptions", json={"url": URL, "event_types": ["*"], **body}, headers=admin
    )
    assert response.status_code == 201, response.json
    result: dict[str, Any] = response.json
    return result


def one(db: str, query: str, *params: Any) -> Any:
    with psycopg.connect(db) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


def test_create_read_list_patch_delete_each_an_audit_event(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    sub = create(client, admin, description="CPQ", event_types=["override.filed"])
    shown = client.get(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin).json
    assert shown == {k: v for k, v in sub.items() if k != "secret"}
    assert shown["event_types"] == ["override.filed"] and shown["enabled"] is True
    patched = client.patch(
        f"/v1/webhook-subscriptions/{sub['id']}",
        json={"enabled": False, "event_types": ["*"]},
        headers=admin,
    )
    assert patched.status_code == 200
    assert (patched.json["enabled"], patched.json["event_types"]) == (False, ["*"])
    assert patched.json["disabled_reason"] == "disabled by PATCH"
    again = client.patch(
        f"/v1/webhook-subscriptions/{sub['id']}", json={"enabled": True}, headers=admin
    )
    assert (again.json["enabled"], again.json["disabled_reason"]) == (True, None)
    assert client.delete(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin).status_code == 204
    gone = client.get(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin)
    assert gone.status_code == 404
    assert gone.json["detail"] == f"No webhook subscription {sub['id']}."
    with psycopg.connect(db) as conn:
        events = conn.execute(
            "SELECT type, payload::text FROM audit_events WHERE subject = %s ORDER BY id",
            (f"webhook_subscription:{sub['id']}",),
        ).fetchall()
    assert [t for t, _ in events] == [
        "webhook.subscription_created",
        "webhook.subscription_updated",
        "webhook.subscription_updated",
        "webhook.subscription_deleted",
    ]
    assert not any(sub["secret"] in text or "whsec_" in text for _, text in events)


def test_the_secret_is_stored_encrypted(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    sub = create(client, admin)
    stored = bytes(one(db, "SELECT secret_enc FROM webhook_subscriptions WHERE id = %s", sub["id"]))
    assert sub["secret"].encode() not in stored
    assert sub["secret"].removeprefix("whsec_").encode() not in stored
    assert len(stored) == 12 + len(sub["secret"]) + 16


def test_listing_pages_by_cursor(client: FlaskClient, admin: dict[str, str]) -> None:
    ids = [create(client, admin)["id"] for _ in range(3)]
    first = client.get("/v1/webhook-subscriptions?limit=2", headers=admin).json
    assert [s["id"] for s in first["items"]] == ids[:2]
    rest = client.get(
        f"/v1/webhook-subscriptions?limit=2&cursor={first['next_cursor']}", headers=admin
    ).json
    assert ([s["id"] for s in rest["items"]], rest["next_cursor"]) == (ids[2:], None)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": URL, "event_types": ["nope"]}, "event_types.0", "Must be one of"),
        ({"url": URL, "event_types": []}, "event_types", "Length must be between"),
        ({"event_types": ["*"]}, "url", "Missing data for required field."),
        ({"url": URL, "event_types": ["*"], "secret": "x"}, "secret", "Unknown field."),
    ],
    ids=["unknown-type", "no-types", "no-url", "own-secret"],
)
def test_bad_subscriptions_are_422_naming_the_field(
    client: FlaskClient, admin: dict[str, str], body: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/v1/webhook-subscriptions", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json["errors"][field][0].startswith(message)


def test_the_webhooks_scope_is_needed(client: FlaskClient, make_key: Any) -> None:
    key = {"Authorization": f"Bearer {make_key('requests')}"}
    response = client.get("/v1/webhook-subscriptions", headers=key)
    assert response.status_code == 403
    assert response.json["detail"] == "This API key lacks the `webhooks` scope."
    hooks = {"Authorization": f"Bearer {make_key('webhooks', name='hooks')}"}
    assert client.get("/v1/webhook-subscriptions", headers=hooks).json == {
        "items": [],
        "next_cursor": None,
    }


def test_a_rolled_back_change_leaves_no_event_and_no_notification(
    client: FlaskClient, admin: dict[str, str], pool: ConnectionPool, db: str
) -> None:
    create(client, admin)
    with psycopg.connect(db, autocommit=True) as listener:
        listener.execute("LISTEN dealdesk_webhooks")
        with pytest.raises(RuntimeError), transaction(pool) as conn:
            outbox.emit(conn, EventType.WEBHOOK_TEST, 1, datetime.now(UTC), {})
            raise RuntimeError("the change fails after its event was written")
        assert list(listener.notifies(timeout=0.3)) == []
        assert one(db, "SELECT count(*) FROM webhook_events") == 0
        with transaction(pool) as conn:
            sent = outbox.emit(conn, EventType.WEBHOOK_TEST, 2, datetime.now(UTC), {"x": 1})
        assert [n.channel for n in listener.notifies(timeout=2, stop_after=1)] == [
            "dealdesk_webhooks"
        ]
    assert one(db, "SELECT body FROM webhook_events") == sent.body
    assert one(db, "SELECT count(*) FROM webhook_deliveries WHERE event_id = %s", sent.id) == 1


def test_redeliver_puts_a_delivery_back_with_a_fresh_schedule(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    sub = create(client, admin)
    client.post(f"/v1/webhook-subscriptions/{sub['id']}/test", headers=admin)
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE webhook_deliveries SET status = 'failed', tries = 10")
    listed = client.get("/v1/webhook-deliveries?status=failed", headers=admin).json["items"]
    assert [d["event_type"] for d in listed] == ["webhook.test"]
    again = client.post(f"/v1/webhook-deliveries/{listed[0]['id']}/redeliver", headers=admin)
    assert again.status_code == 202
    assert (again.json["status"], again.json["attempts"]) == ("pending", [])
    assert one(db, "SELECT tries FROM webhook_deliveries") == 0
    filtered = client.get("/v1/webhook-deliveries?event_type=override.filed", headers=admin).json[
        "items"
    ]
    assert filtered == []
    missing = client.post("/v1/webhook-deliveries/999999/redeliver", headers=admin)
    assert (missing.status_code, missing.json["detail"]) == (404, "No webhook delivery 999999.")


def test_a_checkpoint_seals_every_n_events_and_catches_deleted_rows(
    client: FlaskClient, admin: dict[str, str], pool: ConnectionPool, db: str
) -> None:
    create(client, admin, event_types=["audit.checkpoint"])
    for _ in range(5):
        create(client, admin, event_types=["webhook.test"])
    assert maybe_seal(pool, 4) == 4
    assert maybe_seal(pool, 4) is None
    body = one(db, "SELECT body FROM webhook_events WHERE type = 'audit.checkpoint'")
    sealed_hash = one(db, "SELECT hash FROM audit_events WHERE id = 4")
    assert f'"sequence":4,"data":{{"event_id":4,"hash":"{sealed_hash}","events":4}}' in body
    query = f"/v1/audit/verify?checkpoint_id=4&checkpoint_hash={sealed_hash}"
    fine = client.get(query, headers=admin).json
    assert (fine["ok"], fine["checkpoint_ok"]) == (True, True)
    wrong = client.get(
        f"/v1/audit/verify?checkpoint_id=4&checkpoint_hash={'0' * 64}", headers=admin
    )
    assert wrong.json["checkpoint_ok"] is False
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM audit_events WHERE id >= 4")
    after = client.get(query, headers=admin).json
    assert (after["ok"], after["checkpoint_ok"], after["events"]) == (True, False, 3)
    half = client.get("/v1/audit/verify?checkpoint_id=4", headers=admin)
    assert half.status_code == 422
    assert half.json["errors"] == {
        "checkpoint_hash": ["Give checkpoint_id and checkpoint_hash together."]
    }


def test_an_hourly_checkpoint_seals_the_newest_event(
    client: FlaskClient, admin: dict[str, str], pool: ConnectionPool, db: str
) -> None:
    create(client, admin)
    create(client, admin)
    assert maybe_seal(pool, 1000) is None
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    newest = one(db, "SELECT max(id) FROM audit_events")
    assert newest == 3  # the admin key's creation, then two subscriptions
    assert maybe_seal(pool, 1000, now=later) == newest
    assert one(db, "SELECT events FROM audit_checkpoints WHERE event_id = 3") == 3
    assert maybe_seal(pool, 1000, now=later) is None
