"""Mail with the real SLA scan (DESIGN 14): under a tiny SLA the dispatcher's own pass fires
the reminder and the overdue notice, and aiosmtpd receives them for everyone `eligible`: the
approver, their active delegate, and (with the overdue notice, as the first escalation falls
at `due_at`) the manager it was escalated to, whose own one-click link acts as them. Each
escalation also mails the manager it reached, and only them: a manager reached one SLA period
later, further up the chain, learns the step now waits for them too."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.dispatch.worker import Dispatcher
from api.policy.loader import load_policy_dir
from tests.mail.conftest import PUBLIC, address, notified, only_link, rows, submit
from tests.mail.smtpd import Handler, Mail
from tests.sla_policy import policy_dir, sla_events

pytestmark = pytest.mark.usefixtures("people", "mailbox")
HOURS = "0.001"  # 3.6 s: reminder at 1.8 s, overdue and the first escalation at 3.6 s
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DELEGATION = {
    "name": "Patel",
    "tier": "sales_director",
    "manager_id": "vp.garcia",
    "email": address("sd.patel"),
    "delegate": {"id": "vp.west", "from": "2026-06-01", "to": "2026-06-30"},
}


@pytest.fixture()
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, policy_dir=policy_dir(tmp_path, HOURS), sla_scan_s=0.1)


@pytest.fixture()
def app(settings: Settings, pool: ConnectionPool) -> Flask:
    application = create_app(settings, pool=pool, policy_set=load_policy_dir(settings.policy_dir))
    application.config["TESTING"] = True
    return application


@pytest.fixture()
def delegated(client: FlaskClient, admin: dict[str, str], people: Any) -> None:
    """sd.patel's delegate today (DEALDESK_TODAY 2026-06-10) is vp.west."""
    response = client.put("/v1/people/sd.patel", json=DELEGATION, headers=admin)
    assert response.status_code == 200, response.json


@pytest.fixture()
def running(settings: Settings, db: str, delegated: None, mailbox: Handler) -> Iterator[Dispatcher]:
    """The dispatcher (deliveries, mail and the SLA scan), started once the org is in place,
    and stopped before the SMTP server is: a mail still in flight (the decision's) ends its
    session rather than leaving the server's transport open."""
    worker = Dispatcher(settings, db, threads=4)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker
    worker.stop.set()
    thread.join(timeout=10)


def due_text(due: datetime, sent: datetime) -> str:
    """The subject's due time: the clock time on the day it is mailed, else the date too."""
    if due.date() == sent.date():
        return f"due {due:%H:%M} UTC"
    return f"due {due:%Y-%m-%d %H:%M} UTC"


def by_kind(mails: list[Mail], prefix: str) -> dict[str, Mail]:
    found = {m.to[0]: m for m in mails if m.message["Subject"].startswith(prefix)}
    assert len(found) == len([m for m in mails if m.message["Subject"].startswith(prefix)])
    return found


@pytest.mark.usefixtures("running")
def test_reminder_and_overdue_reach_everyone_eligible_and_the_managers_link_acts_as_them(
    app: Flask, client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    made = submit(client, admin, discount_pct="18")  # sales_director: sd.patel
    rid = made["id"]
    [(due,)] = rows(db, "SELECT due_at FROM approval_steps WHERE request_id = %s", uuid.UUID(rid))
    mails = mailbox.wait_for(8, timeout=30)  # assigned 2, reminder 2, overdue 3, escalated 1
    sent = datetime.now(UTC)
    subject = f"Q-1: 18% discount for Acme Corp — {due_text(due, sent)}"

    assigned = by_kind(mails, "Approve ")
    reminder = by_kind(mails, "Reminder: ")
    overdue = by_kind(mails, "Overdue: ")
    eligible = [address(p) for p in ("sd.patel", "vp.west")]
    assert sorted(assigned) == sorted(reminder) == sorted(eligible)
    assert sorted(overdue) == sorted([*eligible, address("vp.garcia")])
    assert {m.message["Subject"] for m in assigned.values()} == {f"Approve {subject}"}
    assert {m.message["Subject"] for m in reminder.values()} == {f"Reminder: approve {subject}"}
    assert {m.message["Subject"] for m in overdue.values()} == {f"Overdue: approve {subject}"}
    assert all(m.message["Auto-Submitted"] == "auto-generated" for m in mails)
    links = [only_link(m) for m in mails]
    assert len(set(links)) == len(links) >= 8  # everyone's own link in every mail

    types = [t for t, _ in sla_events(db, rid)]
    assert types[:3] == [
        "approval_step.reminder",
        "approval_step.overdue",
        "approval_step.escalated",
    ]
    listed = notified(client, admin, event_type="approval_step.overdue")
    assert sorted((n["person_id"], n["email"], n["status"]) for n in listed) == [
        ("sd.patel", address("sd.patel"), "sent"),
        ("vp.garcia", address("vp.garcia"), "sent"),
        ("vp.west", address("vp.west"), "sent"),
    ]
    assert {n["subject"] for n in listed} == {f"Overdue: approve {subject}"}

    path = only_link(overdue[address("vp.garcia")]).removeprefix(PUBLIC)
    scanned = app.test_client().get(path, headers={"User-Agent": "Microsoft Safe Links"})
    assert scanned.status_code == 200
    assert rows(db, "SELECT state FROM approval_requests") == [("pending",)]
    page = client.get(path)
    token = CSRF.search(page.get_data(as_text=True))
    assert token is not None
    form = {"csrf_token": token.group(1), "action": "approve", "comment": "Go.", "version": "1"}
    done = client.post(path, data=form)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert 'data-state="approved"' in done.get_data(as_text=True)

    api = client.get(f"/v1/approval-requests/{rid}", headers=admin).json
    assert (api["state"], api["steps"][0]["acted_by"], api["steps"][0]["comment"]) == (
        "approved",
        "vp.garcia",
        "Go.",
    )
    [(actor, payload)] = rows(
        db, "SELECT actor, payload FROM audit_events WHERE type = 'request.approve'"
    )
    assert (actor, payload["via"], payload["acted_as"], payload["step"]["approver_id"]) == (
        "vp.garcia",
        "email_link",
        "escalated_manager",
        "sd.patel",
    )
    assert rows(db, "SELECT count(*) FROM overrides") == [(0,)]
    again = client.post(path, data=form)
    assert again.status_code == 410  # single use
    other = only_link(overdue[address("sd.patel")]).removeprefix(PUBLIC)
    assert client.get(other).status_code == 410  # the step is no longer pending


@pytest.mark.usefixtures("running")
def test_each_escalation_mails_the_manager_it_reached_whose_link_acts_as_them(
    app: Flask, client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    """sd.patel's chain: vp.garcia at `due_at`, ceo.morgan one SLA period later; then it ends."""
    rid = submit(client, admin, discount_pct="18")["id"]
    [(due,)] = rows(db, "SELECT due_at FROM approval_steps WHERE request_id = %s", uuid.UUID(rid))
    mailbox.wait_for(8, timeout=30)  # assigned 2, reminder 2, overdue 3, escalated 1
    time.sleep(4.0)  # one more SLA period: the chain has ended, so nothing more is mailed
    mails = list(mailbox.received)
    assert len(mails) == 8
    ask = f"Q-1: 18% discount for Acme Corp — {due_text(due, datetime.now(UTC))}"
    subject = f"Escalated to you: approve {ask}"
    escalated = by_kind(mails, "Escalated to you: ")
    assert sorted(escalated) == [address("ceo.morgan")]  # vp.garcia had the overdue notice
    assert {m.message["Subject"] for m in escalated.values()} == {subject}
    assert "was escalated to you" in escalated[address("ceo.morgan")].part("plain")

    events = [p["escalated_to"] for t, p in sla_events(db, rid) if t == "approval_step.escalated"]
    assert events == ["vp.garcia", "ceo.morgan"]
    listed = notified(client, admin, event_type="approval_step.escalated")
    assert [(n["person_id"], n["email"], n["status"], n["subject"]) for n in listed] == [
        ("ceo.morgan", address("ceo.morgan"), "sent", subject),
    ]

    path = only_link(escalated[address("ceo.morgan")]).removeprefix(PUBLIC)
    scanned = app.test_client().get(path, headers={"User-Agent": "Microsoft Safe Links"})
    assert scanned.status_code == 200
    assert rows(db, "SELECT state FROM approval_requests") == [("pending",)]
    token = CSRF.search(client.get(path).get_data(as_text=True))
    assert token is not None
    form = {
        "csrf_token": token.group(1),
        "action": "approve",
        "comment": "Ship it.",
        "version": "1",
    }
    done = client.post(path, data=form)
    assert done.status_code == 200, done.get_data(as_text=True)
    api = client.get(f"/v1/approval-requests/{rid}", headers=admin).json
    assert (api["state"], api["steps"][0]["acted_by"]) == ("approved", "ceo.morgan")
    [(actor, payload)] = rows(
        db, "SELECT actor, payload FROM audit_events WHERE type = 'request.approve'"
    )
    assert (actor, payload["via"], payload["acted_as"]) == (
        "ceo.morgan",
        "email_link",
        "escalated_manager",
    )
    assert rows(db, "SELECT count(*) FROM overrides") == [(0,)]
    garcia = only_link(by_kind(mails, "Overdue: ")[address("vp.garcia")]).removeprefix(PUBLIC)
    assert client.get(garcia).status_code == 410  # the step is no longer pending
