"""Which events each change writes to the outbox, in order, with `sequence` = its audit event
and `data` = what GET of the subject returns (no dispatcher needed: the outbox is the record)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.policy.loader import load_policy_dir
from api.service.policy_sets import publish
from api.storage.database import transaction
from tests.conftest import POLICIES
from tests.http.conftest import deal

WHY = "Competitor matched our price at quarter end."


@pytest.fixture(autouse=True)
def subscribed(client: FlaskClient, admin: dict[str, str], org: Any) -> None:
    response = client.post(
        "/v1/webhook-subscriptions",
        json={"url": "https://93.184.216.34/hooks", "event_types": ["*"]},
        headers=admin,
    )
    assert response.status_code == 201, response.json


def outbox(db: str) -> list[dict[str, Any]]:
    """Every event that has a delivery, in the order they were written."""
    with psycopg.connect(db) as conn:
        bodies = conn.execute(
            "SELECT e.body FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
            "ORDER BY d.id"
        ).fetchall()
    return [orjson.loads(b) for (b,) in bodies]


def audit_ids(db: str, type_: str) -> list[int]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT id FROM audit_events WHERE type = %s ORDER BY id", (type_,))
        return [r[0] for r in rows.fetchall()]


def submit(client: FlaskClient, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"deal": deal(**fields), "requested_by": fields.get("owner_id", "am.jones")}
    response = client.post("/v1/approval-requests", json=body, headers=admin)
    assert response.status_code == 201, response.json
    result: dict[str, Any] = response.json
    return result


def test_return_publishes_returned(client: FlaskClient, admin: dict[str, str], db: str) -> None:
    request = submit(client, admin, discount_pct="12")
    returned = client.post(
        f"/v1/approval-requests/{request['id']}/return",
        json={"approver_id": "sm.lee", "comment": "Try 10% first."},
        headers=admin,
    )
    events = outbox(db)
    assert [e["type"] for e in events] == [
        "approval_request.submitted",
        "approval_step.assigned",
        "approval_request.returned",
    ]
    assert events[2]["data"] == returned.json
    assert events[2]["sequence"] == audit_ids(db, "request.return")[0]


def test_within_authority_is_submitted_and_decided_at_once(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    request = submit(client, admin, discount_pct="5")
    events = outbox(db)
    assert [(e["type"], e["data"]["state"]) for e in events] == [
        ("approval_request.submitted", "approved"),
        ("approval_request.decided", "approved"),
    ]
    assert events[0]["data"] == events[1]["data"] == request


def test_no_approver_publishes_stuck(client: FlaskClient, admin: dict[str, str], db: str) -> None:
    solo = client.put(
        "/v1/people/am.solo", json={"name": "Solo", "tier": "account_manager"}, headers=admin
    )
    assert solo.status_code == 201
    submit(client, admin, discount_pct="12", owner_id="am.solo", deal_id="Q-SOLO")
    assert [(e["type"], e["data"]["state"]) for e in outbox(db)] == [
        ("approval_request.submitted", "stuck"),
        ("approval_request.stuck", "stuck"),
    ]


def test_an_override_files_acknowledges_and_reviews(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    request = submit(client, admin, discount_pct="18")
    filed = client.post(
        "/v1/overrides",
        json={
            "executive_id": "vp.garcia",
            "request_id": request["id"],
            "terms": {"discount_pct": "35"},
            "reason_code": "competitive_displacement",
            "justification": WHY,
        },
        headers=admin,
    )
    assert filed.status_code == 201, filed.json
    oid = filed.json["id"]
    ack = client.post(
        f"/v1/overrides/{oid}/acknowledge", json={"owner_id": "am.jones"}, headers=admin
    )
    review = client.post(
        f"/v1/overrides/{oid}/reviews",
        json={"reviewer_id": "cfo.chen", "status": "questioned", "note": "Why 35%?"},
        headers=admin,
    )
    events = outbox(db)
    assert [e["type"] for e in events][2:] == [
        "override.filed",
        "approval_request.decided",
        "override.acknowledged",
        "override.reviewed",
    ]
    created = audit_ids(db, "override.created")[0]
    assert [e["sequence"] for e in events[2:4]] == [created, created]
    assert events[2]["data"] == filed.json
    assert events[3]["data"]["state"] == "overridden"
    assert events[4]["data"] == ack.json
    assert events[5]["data"] == review.json
    assert events[5]["sequence"] == audit_ids(db, "override.reviewed")[0]


def test_a_publish_publishes_policy_published(app: Flask, db: str, tmp_path: Path) -> None:
    shipped = (POLICIES / "deal-authority.yaml").read_text()
    (tmp_path / "p.yaml").write_text(shipped.replace('version: "', 'version: "9', 1))
    runtime = app.extensions["dealdesk"]
    with transaction(runtime.pool) as conn:
        published = publish(conn, load_policy_dir(tmp_path), "test")
    events = outbox(db)
    assert [e["type"] for e in events] == ["policy.published"]
    assert events[0]["data"]["generation"] == published.in_force.generation
    assert events[0]["data"]["policies"][0]["sha256"] == published.policies.active.sha256
    assert events[0]["sequence"] == audit_ids(db, "policy.published")[-1]
