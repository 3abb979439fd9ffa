"""My approvals and the request page with escalation (DESIGN 14): under a tiny SLA the real
SLA scan (the dispatcher's job, called here directly) escalates a late step to the approver's
manager, who then finds it in My approvals, soonest due first and marked overdue, and
approves it from the request page: an approval as escalated manager, never an override."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.console.blueprint import when
from api.dispatch.sla import SlaJob
from api.policy.loader import load_policy_dir
from tests.console.loop import person_client, plant, post_form, rows, submit, text
from tests.sla_policy import policy_dir, sla_events

pytestmark = pytest.mark.usefixtures("org")
HOURS = "0.001"  # 3.6 s: reminder at 1.8 s; overdue and the first escalation at 3.6 s; next 7.2 s


@pytest.fixture()
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, policy_dir=policy_dir(tmp_path, HOURS))


@pytest.fixture()
def app(settings: Settings, pool: ConnectionPool) -> Flask:
    application = create_app(settings, pool=pool, policy_set=load_policy_dir(settings.policy_dir))
    application.config["TESTING"] = True
    return application


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_an_escalated_manager_finds_the_late_step_and_approves_it_from_the_request_page(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    bound_key: Callable[..., str],
    settings: Settings,
    pool: ConnectionPool,
    db: str,
) -> None:
    made = submit(client, admin, "Q-1", account={"id": "ACME", "name": "Acme Corp"})
    rid = made["id"]
    with psycopg.connect(db) as conn:
        assigned, due = conn.execute(
            "SELECT assigned_at, due_at FROM approval_steps WHERE request_id = %s", (rid,)
        ).fetchone()  # type: ignore[misc]
    assert due - assigned == timedelta(seconds=3.6)
    assert made["steps"][0]["due_at"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
    garcia = person_client(app, bound_key("vp.garcia", "approvals", name="garcia"))
    assert rows(text(garcia.get("/console/approvals")), "approvals") == []
    assert garcia.get(f"/console/requests/{rid}").status_code == 403  # not yet theirs

    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.1)
    assert SlaJob(settings).run(pool) == 3  # the dispatcher's own pass: reminder, overdue, one up
    events = sla_events(db, rid)
    assert [(t, p.get("escalated_to")) for t, p in events] == [
        ("approval_step.reminder", None),
        ("approval_step.overdue", None),
        ("approval_step.escalated", "vp.garcia"),
    ]
    shown = client.get(f"/v1/approval-requests/{rid}", headers=admin).json["steps"][0]
    assert [e["person_id"] for e in shown["escalations"]] == ["vp.garcia"]

    html = text(garcia.get("/console/approvals"))
    expected = {
        "Deal": "Q-1",
        "Account": "Acme Corp",
        "Owner": "am.jones",
        "Step": "sales_director (step 1)",
        "You act as": "escalated from sd.patel",
        "What is asked": "discount_pct 18 (needs sales_director)",
        "List amount": "250000.00 USD",
        "Submitted (UTC)": when(at(made["created_at"])),
        "Due (UTC)": f"{when(due)} overdue",
    }
    assert rows(html, "approvals") == [expected]
    assert '<tr class="overdue">' in html
    patel = person_client(app, bound_key("sd.patel", "approvals", name="patel"))
    assert rows(text(patel.get("/console/approvals")), "approvals") == [
        {**expected, "You act as": "approver"}  # the original approver may still act
    ]
    morgan = person_client(app, bound_key("ceo.morgan", "approvals", name="morgan"))
    assert rows(text(morgan.get("/console/approvals")), "approvals") == []  # one level only

    page = text(garcia.get(f"/console/requests/{rid}"))
    assert "You act on step 1 (sales_director) as its escalated manager (for sd.patel)." in page
    url = f"/console/requests/{rid}"
    done = post_form(garcia, url, f"{url}/act", action="approve", comment="Go.", version="1")
    assert done.status_code == 303, text(done)

    api = client.get(f"/v1/approval-requests/{rid}", headers=admin).json
    assert api["state"] == "approved"
    assert [(s["state"], s["acted_by"], s["comment"]) for s in api["steps"]] == [
        ("approved", "vp.garcia", "Go.")
    ]
    with psycopg.connect(db) as conn:
        approve = conn.execute(
            "SELECT actor, payload FROM audit_events WHERE type = 'request.approve' "
            "AND subject = %s",
            (f"request:{rid}",),
        ).fetchall()
        overrides = conn.execute("SELECT count(*) FROM overrides").fetchone()
    assert [(a, p["acted_as"], p["via_key"], p["step"]["approver_id"]) for a, p in approve] == [
        ("vp.garcia", "escalated_manager", "garcia", "sd.patel")
    ]
    assert overrides == (0,)
    assert rows(text(garcia.get("/console/approvals")), "approvals") == []


def test_my_approvals_is_soonest_due_first_with_overdue_marked(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    bound_key: Callable[..., str],
    db: str,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    made = {
        "Q-1": submit(client, admin, "Q-1"),  # sd.patel approves
        "Q-2": submit(client, admin, "Q-2"),
        "Q-3": submit(client, admin, "Q-3"),
        "Q-4": submit(client, admin, "Q-4", discount_pct="12"),  # sm.lee approves
    }
    due = {
        "Q-1": now + timedelta(hours=2),
        "Q-2": now - timedelta(hours=1),
        "Q-3": None,  # as a step assigned under no SLA
        "Q-4": now + timedelta(hours=1),
    }
    for deal_id, body in made.items():
        plant(db, body["id"], due[deal_id], "sd.patel" if deal_id == "Q-4" else None)
    patel = person_client(app, bound_key("sd.patel", "approvals", name="patel"))
    html = text(patel.get("/console/approvals"))
    found = [
        (r["Deal"], r["Step"], r["You act as"], r["Due (UTC)"]) for r in rows(html, "approvals")
    ]
    assert found == [
        ("Q-2", "sales_director (step 1)", "approver", f"{when(due['Q-2'])} overdue"),
        ("Q-4", "sales_manager (step 1)", "escalated from sm.lee", when(due["Q-4"])),
        ("Q-1", "sales_director (step 1)", "approver", when(due["Q-1"])),
        ("Q-3", "sales_director (step 1)", "approver", "no due time"),
    ]
    assert html.count('<tr class="overdue">') == 1
    assert "Steps waiting for you, soonest due first: 4" in html
    lee = person_client(app, bound_key("sm.lee", "approvals", name="lee"))
    assert [r["Deal"] for r in rows(text(lee.get("/console/approvals")), "approvals")] == ["Q-4"]
    page = text(patel.get(f"/console/requests/{made['Q-4']['id']}"))
    assert "You act on step 1 (sales_manager) as its escalated manager (for sm.lee)." in page


def test_a_delegate_who_is_also_escalated_to_is_listed_once(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    bound_key: Callable[..., str],
    db: str,
) -> None:
    rid = submit(client, admin, "Q-1")["id"]
    delegation: dict[str, Any] = {
        "name": "Patel",
        "tier": "sales_director",
        "manager_id": "vp.garcia",
        "delegate": {"id": "vp.garcia", "from": "2026-06-01", "to": "2026-06-30"},
    }
    assert client.put("/v1/people/sd.patel", json=delegation, headers=admin).status_code == 200
    plant(db, rid, datetime.now(UTC) + timedelta(hours=1), "vp.garcia")
    garcia = person_client(app, bound_key("vp.garcia", "approvals", name="garcia"))
    found = rows(text(garcia.get("/console/approvals")), "approvals")
    # in the capacity the API's audit records for them (acted_as escalated_manager)
    assert [(r["Deal"], r["You act as"]) for r in found] == [("Q-1", "escalated from sd.patel")]
    page = text(garcia.get(f"/console/requests/{rid}"))
    assert "You act on step 1 (sales_director) as its escalated manager (for sd.patel)." in page
