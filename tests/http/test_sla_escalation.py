"""Reminders, overdue notices and escalation with a tiny SLA and real time: a real dispatcher
thread runs the scan, a real receiver gets the events, and the API lets escalated managers
act (as an approval, never an override) and nobody else."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.dispatch.worker import Dispatcher
from api.policy.loader import load_policy_dir
from api.service.policy_sets import publish
from api.storage.database import transaction
from tests.http.conftest import deal
from tests.sla_policy import policy_dir, sla_events
from tests.webhooks.receiver import Receiver, running, verified

pytestmark = pytest.mark.usefixtures("org")
BASE = "/v1/approval-requests"
PERIOD_S = 1.8  # hours: 0.0005
ESCALATE = {"escalate": "manager"}
SLA_TYPES = {"approval_step.reminder", "approval_step.overdue", "approval_step.escalated"}


@pytest.fixture()
def sla(request: pytest.FixtureRequest) -> dict[str, str]:
    return getattr(request, "param", ESCALATE)


@pytest.fixture()
def settings(settings: Settings, tmp_path: Path, sla: dict[str, str]) -> Settings:
    return dataclasses.replace(
        settings,
        policy_dir=policy_dir(tmp_path, "0.0005", **sla),
        secret_key="test-secret-key-of-enough-length-0123456789",
        webhook_allow_nets=("127.0.0.0/8",),
        webhook_allow_http=True,
        webhook_timeout_s=1.0,
        webhook_connect_timeout_s=1.0,
        sla_scan_s=0.1,
    )


@pytest.fixture()
def app(settings: Settings, pool: ConnectionPool) -> Flask:
    application = create_app(settings, pool=pool, policy_set=load_policy_dir(settings.policy_dir))
    application.config["TESTING"] = True
    return application


@pytest.fixture()
def dispatcher(settings: Settings, db: str) -> Iterator[Dispatcher]:
    worker = Dispatcher(settings, db, threads=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=10)


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with running(Receiver()) as r:
        yield r


def submit(client: FlaskClient, admin: dict[str, str]) -> dict[str, Any]:
    body = {"deal": deal(discount_pct="18"), "requested_by": "am.jones"}
    response = client.post(BASE, json=body, headers=admin)
    assert response.status_code == 201, response.json
    result: dict[str, Any] = response.json
    return result


def wait_for(db: str, rid: str, count: int, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [t for t, _ in sla_events(db, rid)]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"only {sla_events(db, rid)}")


def scrape(client: FlaskClient, admin: dict[str, str]) -> str:
    response = client.get("/metrics", headers=admin)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def step_counts(client: FlaskClient, admin: dict[str, str]) -> dict[str, float]:
    """`dealdesk_approval_step_seconds` observations so far, by tier."""
    families = {f.name: f for f in text_string_to_metric_families(scrape(client, admin))}
    return {
        s.labels["tier"]: s.value
        for s in families["dealdesk_approval_step_seconds"].samples
        if s.name.endswith("_count")
    }


def test_reminder_overdue_and_escalation_up_the_chain(
    client: FlaskClient,
    admin: dict[str, str],
    db: str,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    sub = client.post(
        "/v1/webhook-subscriptions",
        json={"url": receiver.url, "event_types": ["*"]},
        headers=admin,
    ).json
    rid = submit(client, admin)["id"]
    # am.jones -> sm.lee -> sd.patel (the approver) -> vp.garcia -> ceo.morgan: two managers
    types = wait_for(db, rid, 4)
    time.sleep(PERIOD_S * 2)  # two more periods: the chain has ended, nothing more fires
    events = sla_events(db, rid)
    assert [t for t, _ in events] == [
        "approval_step.reminder",
        "approval_step.overdue",
        "approval_step.escalated",
        "approval_step.escalated",
    ]
    assert types == [t for t, _ in events]
    assert [(p.get("escalated_to"), p.get("level"), p["stage"]) for _, p in events] == [
        (None, None, 0),
        (None, None, 1),
        ("vp.garcia", 1, 2),
        ("ceo.morgan", 2, 3),
    ]
    shown = client.get(f"{BASE}/{rid}", headers=admin).json["steps"][0]
    assert [e["person_id"] for e in shown["escalations"]] == ["vp.garcia", "ceo.morgan"]
    assert shown["eligible"] == [
        {"id": "sd.patel", "tier": "sales_director"},
        {"id": "vp.garcia", "tier": "vp_sales"},
        {"id": "ceo.morgan", "tier": "ceo"},
    ]
    inbox = client.get(f"{BASE}?approver_id=ceo.morgan", headers=admin).json["items"]
    assert [r["id"] for r in inbox] == [rid]  # an escalated manager's inbox lists it
    with psycopg.connect(db) as conn:
        stage, next_at = conn.execute(
            "SELECT sla_stage, sla_next_at FROM approval_steps WHERE request_id = %s", (rid,)
        ).fetchone()  # type: ignore[misc]
    assert (stage, next_at) == (4, None)

    got = receiver.wait_for(6)  # submitted, assigned, and the four SLA events
    bodies = [verified(r, sub["secret"]) for r in got]
    assigned = [b for b in bodies if b["type"] == "approval_step.assigned"]
    assert [b["data"]["steps"][0]["eligible"] for b in assigned] == [shown["eligible"][:1]]
    sla_bodies = [b for b in bodies if b["type"] in SLA_TYPES]
    assert [b["type"] for b in sla_bodies] == [t for t, _ in events]
    last = sla_bodies[-1]["data"]
    assert last["id"] == rid and last["steps"][0]["eligible"] == shown["eligible"]
    assert sla_bodies[2]["data"]["steps"][0]["eligible"] == shown["eligible"][:2]
    # the first escalation falls at due_at: the overdue notice already lists that manager
    assert sla_bodies[1]["data"]["steps"][0]["eligible"] == shown["eligible"][:2]
    assert sla_bodies[0]["data"]["steps"][0]["eligible"] == shown["eligible"][:1]


def test_an_escalated_manager_approves_and_it_is_an_approval(
    client: FlaskClient, admin: dict[str, str], db: str, dispatcher: Dispatcher
) -> None:
    rid = submit(client, admin)["id"]
    wait_for(db, rid, 3)
    before = step_counts(client, admin)
    refused = client.post(f"{BASE}/{rid}/approve", json={"approver_id": "vp.west"}, headers=admin)
    assert (refused.status_code, refused.json["detail"]) == (
        403,
        "'vp.west' is not an approver (or their delegate) on this request.",
    )
    done = client.post(
        f"{BASE}/{rid}/approve", json={"approver_id": "vp.garcia", "comment": "Go."}, headers=admin
    )
    assert done.status_code == 200, done.json
    body = done.json
    assert (body["state"], body["steps"][0]["state"], body["steps"][0]["acted_by"]) == (
        "approved",
        "approved",
        "vp.garcia",
    )
    with psycopg.connect(db) as conn:
        overrides = conn.execute("SELECT count(*) FROM overrides").fetchone()
        approve = conn.execute(
            "SELECT actor, payload FROM audit_events WHERE type = 'request.approve' "
            "AND subject = %s",
            (f"request:{rid}",),
        ).fetchall()
    fired = sla_events(db, rid)
    assert overrides == (0,)
    assert [(a, p["acted_as"], p["step"]["approver_id"]) for a, p in approve] == [
        ("vp.garcia", "escalated_manager", "sd.patel")
    ]
    time.sleep(PERIOD_S)
    assert sla_events(db, rid) == fired  # decided: nothing more fires

    after = step_counts(client, admin)
    assert after.get("sales_director", 0) - before.get("sales_director", 0) == 1.0
    assert "dealdesk_approval_steps_overdue 0\n" in scrape(client, admin)


@pytest.mark.parametrize("sla", [{"escalate": "none"}], indirect=True)
def test_escalate_none_really_does_not_escalate(
    client: FlaskClient, admin: dict[str, str], db: str, dispatcher: Dispatcher
) -> None:
    rid = submit(client, admin)["id"]
    wait_for(db, rid, 2)
    time.sleep(PERIOD_S * 3)  # three more periods: with escalation, two managers by now
    assert [t for t, _ in sla_events(db, rid)] == [
        "approval_step.reminder",
        "approval_step.overdue",
    ]
    step = client.get(f"{BASE}/{rid}", headers=admin).json["steps"][0]
    assert (step["escalations"], step["eligible"]) == (
        [],
        [{"id": "sd.patel", "tier": "sales_director"}],
    )
    refused = client.post(f"{BASE}/{rid}/approve", json={"approver_id": "vp.garcia"}, headers=admin)
    assert refused.status_code == 403
    assert "dealdesk_approval_steps_overdue 1\n" in scrape(client, admin)


def test_the_scan_follows_the_published_policy_set(
    client: FlaskClient, admin: dict[str, str], db: str, tmp_path: Path, pool: ConnectionPool
) -> None:
    """The directory says escalate: manager; the set published to the database says none,
    and the dispatcher (like the API) decides under what is published."""
    off = policy_dir(tmp_path / "published", "0.0005", escalate="none")
    with transaction(pool) as conn:
        publish(conn, load_policy_dir(off), "test")
    worker = Dispatcher(client.application.extensions["dealdesk"].settings, db, threads=1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        rid = submit(client, admin)["id"]
        wait_for(db, rid, 2)
        time.sleep(PERIOD_S * 2)
    finally:
        worker.stop.set()
        thread.join(timeout=10)
    assert [t for t, _ in sla_events(db, rid)] == [
        "approval_step.reminder",
        "approval_step.overdue",
    ]
