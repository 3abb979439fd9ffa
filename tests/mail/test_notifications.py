"""Mail end to end: the app, a real dispatcher, and aiosmtpd on 127.0.0.1. Recipients,
the message's form, skips, rollbacks, retries through an outage and partial refusals."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.events.types import EventType
from api.policy.loader import PolicySet
from api.storage import outbox
from api.storage.database import transaction
from tests.mail.conftest import (
    PUBLIC,
    SENDER,
    address,
    due,
    notified,
    only_link,
    rows,
    settled,
    submit,
)
from tests.mail.smtpd import Handler, smtp_server

LIVE = pytest.mark.usefixtures("people", "mailbox", "dispatcher")


@LIVE
def test_a_step_mail_is_text_and_html_auto_submitted_with_the_exact_subject(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler
) -> None:
    request = submit(client, admin)
    [mail] = mailbox.wait_for(1)
    message = mail.message
    assert mail.to == [address("sm.lee")]
    assert mail.mail_from == "dealdesk@example.test"
    assert message["Subject"] == f"Approve Q-1: 12% discount for Acme Corp{due(request)}"
    assert message["From"] == SENDER
    assert message["To"] == address("sm.lee")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    link = only_link(mail)
    assert link.startswith(f"{PUBLIC}/console/act/")
    assert len(link.rsplit("/", 1)[1]) == 43  # 32 random bytes, base64url
    assert f'href="{link}"' in mail.part("html")
    text = mail.part("plain")
    assert "Hello Lee," in text
    assert "Asked: 12% discount" in text
    assert f"Open the request: {PUBLIC}/console/requests/{request['id']}" in text
    [item] = notified(client, admin)
    assert item == {
        "id": item["id"],
        "person_id": "sm.lee",
        "email": address("sm.lee"),
        "event_type": "approval_step.assigned",
        "event_id": item["event_id"],
        "subject": f"Approve Q-1: 12% discount for Acme Corp{due(request)}",
        "status": "sent",
        "attempts": 1,
        "created_at": item["created_at"],
    }
    assert item["event_id"].startswith("evt_")


@LIVE
def test_the_token_is_stored_only_hashed(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request = submit(client, admin)
    [mail] = mailbox.wait_for(1)
    token = only_link(mail).rsplit("/", 1)[1]
    stored = rows(db, "SELECT token_hash, request_id::text, step_seq, person_id FROM action_links")
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(), request["id"], 0, "sm.lee")]
    dump = rows(db, "SELECT count(*) FROM action_links WHERE token_hash = %s", token)
    assert dump == [(0,)]


@LIVE
def test_a_delegate_gets_their_own_link_and_a_refused_address_fails_alone(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    """sm.lee's active delegate is eligible too; the server refuses sd.patel's address (550):
    only that notification fails, sm.lee's is sent."""
    body = {"name": "Lee", "tier": "sales_manager", "manager_id": "sd.patel"}
    body |= {"email": address("sm.lee"), "delegate": {"id": "sd.patel"}}
    assert client.put("/v1/people/sm.lee", json=body, headers=admin).status_code == 200
    mailbox.refuse.add(address("sd.patel"))
    submit(client, admin)
    assert settled(db, 2) == [
        ("sm.lee", "approval_step.assigned", "sent", 1),
        ("sd.patel", "approval_step.assigned", "failed", 1),
    ]
    [mail] = mailbox.wait_for(1)
    assert mail.to == [address("sm.lee")]
    failed = rows(db, "SELECT last_error FROM notifications WHERE status = 'failed'")
    assert failed == [("550 5.1.1 No such mailbox here",)]
    assert notified(client, admin, status="failed")[0]["person_id"] == "sd.patel"


@LIVE
def test_a_person_without_email_is_skipped_and_the_skip_recorded(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    body = {"name": "Lee", "tier": "sales_manager", "manager_id": "sd.patel", "email": None}
    assert client.put("/v1/people/sm.lee", json=body, headers=admin).status_code == 200
    request = submit(client, admin)
    submit(client, admin, deal_id="Q-2", discount_pct="18")  # sd.patel: mailed
    mailbox.wait_for(1)
    time.sleep(0.5)
    assert [m.to for m in mailbox.received] == [[address("sd.patel")]]
    skipped = notified(client, admin, status="skipped")
    assert [(n["person_id"], n["email"], n["attempts"]) for n in skipped] == [("sm.lee", None, 0)]
    assert skipped[0]["subject"] == f"Approve Q-1: 12% discount for Acme Corp{due(request)}"
    assert rows(db, "SELECT count(*) FROM action_links WHERE person_id = 'sm.lee'") == [(0,)]


@LIVE
def test_decided_mails_the_owner_and_the_requester(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request = submit(client, admin)
    mailbox.wait_for(1)
    approve = {"approver_id": "sm.lee", "comment": "Fine for a 3-year term."}
    done = client.post(
        f"/v1/approval-requests/{request['id']}/approve", json=approve, headers=admin
    )
    assert done.status_code == 200, done.json
    mails = mailbox.wait_for(2)
    assert mails[1].to == [address("am.jones")]  # owner and requester: one person, one mail
    assert mails[1].message["Subject"] == "Q-1 approved: 12% discount for Acme Corp"
    assert mails[1].links == []
    decided = notified(client, admin, event_type="approval_request.decided")
    assert [(n["person_id"], n["status"]) for n in decided] == [("am.jones", "sent")]


@LIVE
def test_returned_mails_the_owner_with_the_coaching(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler
) -> None:
    request = submit(client, admin)
    mailbox.wait_for(1)
    coach = {"approver_id": "sm.lee", "comment": "Try 10% with a 2-year term first."}
    back = client.post(f"/v1/approval-requests/{request['id']}/return", json=coach, headers=admin)
    assert back.status_code == 200, back.json
    mail = mailbox.wait_for(2)[1]
    assert mail.to == [address("am.jones")]
    assert mail.message["Subject"] == (
        "Returned Q-1: 12% discount for Acme Corp — coaching from sm.lee"
    )
    assert "Coaching:\nTry 10% with a 2-year term first." in mail.part("plain")
    assert "<blockquote" in mail.part("html")


@LIVE
def test_a_rolled_back_change_mails_nothing(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, pool: ConnectionPool, db: str
) -> None:
    request = submit(client, admin)
    mailbox.wait_for(1)
    with pytest.raises(RuntimeError), transaction(pool) as conn:
        outbox.emit(conn, EventType.STEP_ASSIGNED, 999, datetime.now(UTC), request)
        assert rows_in(conn) == 2  # written, in this transaction only
        raise RuntimeError("the change fails after its event was written")
    with transaction(pool) as conn:
        outbox.emit(conn, EventType.STEP_ASSIGNED, 1000, datetime.now(UTC), request)
    mailbox.wait_for(2)
    time.sleep(0.5)
    assert len(mailbox.received) == 2
    assert rows(
        db, "SELECT count(*), count(*) FILTER (WHERE status = 'sent') FROM notifications"
    ) == [(2, 2)]


def rows_in(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM notifications").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.usefixtures("people", "mailbox", "dispatcher")
def test_451_delays_mail_and_it_is_sent_once_when_the_server_accepts(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    mailbox.data_answers.extend(["451 4.3.0 Try again later"] * 2)
    submit(client, admin)
    assert settled(db, 1) == [("sm.lee", "approval_step.assigned", "sent", 3)]
    assert mailbox.answered == ["451 4.3.0 Try again later"] * 2 + ["250 OK"]
    assert len(mailbox.received) == 1


@pytest.mark.usefixtures("people", "dispatcher")
def test_a_server_that_is_down_delays_mail_and_loses_none(
    client: FlaskClient, admin: dict[str, str], db: str, smtp_port: int
) -> None:
    submit(client, admin)
    deadline = time.monotonic() + 10
    while rows(db, "SELECT tries FROM notifications")[0][0] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    [(status, tries, error)] = rows(db, "SELECT status, tries, last_error FROM notifications")
    assert (status, tries >= 1) == ("pending", True)
    assert "ConnectionRefusedError" in error
    with smtp_server(port=smtp_port) as (handler, _):
        [mail] = handler.wait_for(1)
        assert mail.to == [address("sm.lee")]
        [(_, _, final, _)] = settled(db, 1)
        assert final == "sent"
        time.sleep(0.5)
        assert len(handler.received) == 1


@pytest.mark.usefixtures("people")
def test_without_smtp_nothing_is_written(
    admin: dict[str, str], settings: Settings, pool: ConnectionPool, shipped: PolicySet, db: str
) -> None:
    plain = create_app(dataclasses.replace(settings, smtp_url=None), pool=pool, policy_set=shipped)
    assert outbox.mail is False
    submit(plain.test_client(), admin)
    assert rows(db, "SELECT count(*) FROM notifications") == [(0,)]


@LIVE
def test_an_override_around_the_owner_mails_them_a_link_to_acknowledge(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler
) -> None:
    body = {
        "executive_id": "vp.garcia",
        "deal": {"deal_id": "Q-9", "owner_id": "am.jones", "currency": "USD",
                 "list_amount": "250000.00"},
        "terms": {"discount_pct": "35"},
        "reason_code": "competitive_displacement",
        "justification": "Competitor matched our price at quarter end.",
    }  # fmt: skip
    filed = client.post("/v1/overrides", json=body, headers=admin)
    assert filed.status_code == 201, filed.json
    assert "bypassed_owner" in filed.json["categories"]
    [mail] = mailbox.wait_for(1)
    assert mail.to == [address("am.jones")]
    assert mail.message["Subject"] == (
        "Override on your deal Q-9: 35% discount — please acknowledge"
    )
    text = mail.part("plain")
    assert f"Acknowledge: {PUBLIC}/console/overrides/{filed.json['id']}" in text
    assert "Justification:\nCompetitor matched our price at quarter end." in text
    assert mail.links == []  # no one-click approval in it


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("delegate", "active", "mailed"),
    [
        ({"id": "sd.patel", "from": "2020-01-01", "to": "2020-01-31"}, True, ["sm.lee"]),
        ({"id": "sd.patel"}, False, ["sm.lee"]),
        ({"id": "sd.patel", "from": "2020-01-01"}, True, ["sm.lee", "sd.patel"]),
        (None, True, ["sm.lee"]),
    ],
)
def test_the_delegate_is_mailed_only_while_the_delegation_holds(
    client: FlaskClient,
    admin: dict[str, str],
    pool: ConnectionPool,
    db: str,
    delegate: dict[str, str] | None,
    active: bool,
    mailed: list[str],
) -> None:
    patel = {"name": "Patel", "tier": "sales_director", "manager_id": "vp.garcia"}
    patel |= {"email": address("sd.patel"), "active": active}
    assert client.put("/v1/people/sd.patel", json=patel, headers=admin).status_code == 200
    lee = {"name": "Lee", "tier": "sales_manager", "manager_id": "sd.patel"}
    lee |= {"email": address("sm.lee"), "delegate": delegate}
    assert client.put("/v1/people/sm.lee", json=lee, headers=admin).status_code == 200
    data = {
        "id": "00000000-0000-0000-0000-000000000001",
        "deal_id": "Q-7",
        "steps": [{"tier": "sales_manager", "approver_id": "sm.lee", "state": "pending"}],
        "current_step": {"seq": 0, "tier": "sales_manager", "approver_id": "sm.lee"},
    }
    with transaction(pool) as conn:
        outbox.emit(conn, EventType.STEP_ASSIGNED, 1, datetime.now(UTC), data)
    assert [r[0] for r in rows(db, "SELECT person_id FROM notifications ORDER BY id")] == mailed


@LIVE
def test_out_of_retries_a_notification_fails_and_nothing_was_sent(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    mailbox.data_answers.extend(["451 4.3.0 Try again later"] * 4)  # 1 try + 3 retries
    submit(client, admin)
    assert settled(db, 1) == [("sm.lee", "approval_step.assigned", "failed", 4)]
    assert mailbox.received == [] and len(mailbox.answered) == 4
    [item] = notified(client, admin, status="failed")
    assert (item["person_id"], item["attempts"]) == ("sm.lee", 4)


@pytest.mark.usefixtures("people")
def test_notifications_page_filter_and_refuse_bad_queries(
    client: FlaskClient,
    admin: dict[str, str],
    make_key: Callable[..., str],
    db: str,
) -> None:
    made = [submit(client, admin, deal_id=f"Q-{n}") for n in range(3)]
    subjects = [f"Approve Q-{n}: 12% discount for Acme Corp{due(r)}" for n, r in enumerate(made)]
    first = client.get("/v1/notifications?limit=2", headers=admin).json
    assert [i["subject"] for i in first["items"]] == subjects[:2]
    rest = client.get(f"/v1/notifications?limit=2&cursor={first['next_cursor']}", headers=admin)
    assert [i["subject"] for i in rest.json["items"]] == subjects[2:]
    assert rest.json["next_cursor"] is None
    assert [i["status"] for i in rest.json["items"]] == ["pending"]  # no dispatcher running
    assert notified(client, admin, person_id="am.jones") == []
    assert len(notified(client, admin, person_id="sm.lee", status="pending")) == 3
    assert notified(client, admin, event_type="approval_request.decided") == []
    bad = client.get("/v1/notifications?status=bounced", headers=admin)
    assert bad.status_code == 422
    assert bad.content_type == "application/problem+json"
    assert list(bad.json["errors"]) == ["status"]
    reader = {"Authorization": f"Bearer {make_key('requests')}"}
    refused = client.get("/v1/notifications", headers=reader)
    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"
    audit = {"Authorization": f"Bearer {make_key('audit:read')}"}
    assert len(client.get("/v1/notifications", headers=audit).json["items"]) == 3


@LIVE
def test_a_mail_that_cannot_be_built_fails_alone_and_at_once(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, pool: ConnectionPool, db: str
) -> None:
    """An event naming no request cannot carry a link: it fails for good on its first claim
    instead of sinking its batch on every claim; the good mail beside it goes out."""
    broken = {
        "deal_id": "Q-X",
        "steps": [{"tier": "sales_manager", "approver_id": "sm.lee", "state": "pending"}],
        "current_step": {"seq": 0, "tier": "sales_manager", "approver_id": "sm.lee"},
    }
    with transaction(pool) as conn:
        outbox.emit(conn, EventType.STEP_ASSIGNED, 1, datetime.now(UTC), broken)
        request = submit(client, admin)  # its own transaction, committed first or not
    assert request["state"] == "pending"
    found = settled(db, 2)
    assert sorted(found) == [
        ("sm.lee", "approval_step.assigned", "failed", 1),
        ("sm.lee", "approval_step.assigned", "sent", 1),
    ]
    [(error,)] = rows(db, "SELECT last_error FROM notifications WHERE status = 'failed'")
    assert error.startswith("the message could not be built: the event names no request")
    assert [m.message["Subject"] for m in mailbox.wait_for(1)] == [
        f"Approve Q-1: 12% discount for Acme Corp{due(request)}"
    ]


class SlaEvent(StrEnum):
    """The SLA engine's event types (DESIGN section 14), as it emits them."""

    REMINDER = "approval_step.reminder"
    OVERDUE = "approval_step.overdue"


@LIVE
def test_reminders_and_overdue_mail_everyone_eligible_with_the_due_time(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, pool: ConnectionPool, db: str
) -> None:
    """With the SLA engine's `eligible` and `due_at` on the step, those people are mailed,
    each with their own link, and the subject says when the step is due."""
    request = submit(client, admin)
    mailbox.wait_for(1)
    now = datetime.now(UTC)
    due = now.replace(microsecond=0)
    step = {
        **request["steps"][0],
        "due_at": due.isoformat().replace("+00:00", "Z"),
        "eligible": [
            {"id": "sm.lee", "tier": "sales_manager"},
            {"id": "sd.patel", "tier": "sales_director"},
        ],
    }
    data = {**request, "steps": [step]}
    with transaction(pool) as conn:
        outbox.emit(conn, SlaEvent.REMINDER, 50, now, data)  # type: ignore[arg-type]
        outbox.emit(conn, SlaEvent.OVERDUE, 51, now, data)  # type: ignore[arg-type]
    mails = mailbox.wait_for(5)[1:]
    when = f"{due:%H:%M}"
    assert sorted((m.to[0], m.message["Subject"]) for m in mails) == sorted(
        [
            (address(p), f"{kind} Q-1: 12% discount for Acme Corp — due {when} UTC")
            for p in ("sm.lee", "sd.patel")
            for kind in ("Reminder: approve", "Overdue: approve")
        ]
    )
    links = [only_link(m) for m in mails]
    assert len(set(links)) == 4
    assert rows(db, "SELECT person_id, count(*) FROM action_links GROUP BY 1 ORDER BY 1") == [
        ("sd.patel", 2),
        ("sm.lee", 3),
    ]


@LIVE
def test_an_escalation_mails_only_the_manager_it_reached_or_records_the_skip(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, pool: ConnectionPool, db: str
) -> None:
    """From the second escalation on, each `approval_step.escalated` mails the last of the
    step's escalations alone, with their own link (the first manager reached was mailed with
    the overdue notice); a manager without an email is skipped, and the skip recorded."""
    body = {"name": "Garcia", "tier": "vp_sales", "manager_id": "ceo.morgan", "email": None}
    assert client.put("/v1/people/vp.garcia", json=body, headers=admin).status_code == 200
    request = submit(client, admin)  # sm.lee
    mailbox.wait_for(1)
    now = datetime.now(UTC).replace(microsecond=0)
    at = now.isoformat().replace("+00:00", "Z")
    reached = [{"person_id": p, "at": at} for p in ("sd.patel", "vp.garcia", "ceo.morgan")]
    first, second, third = (
        {**request, "steps": [{**request["steps"][0], "due_at": at, "escalations": reached[:n]}]}
        for n in (1, 2, 3)
    )
    with transaction(pool) as conn:
        outbox.emit(conn, EventType.STEP_ESCALATED, 60, now, first)
        outbox.emit(conn, EventType.STEP_ESCALATED, 61, now, second)
        outbox.emit(conn, EventType.STEP_ESCALATED, 62, now, third)
    [mail] = mailbox.wait_for(2)[1:]
    time.sleep(0.5)
    subject = f"Escalated to you: approve Q-1: 12% discount for Acme Corp — due {now:%H:%M} UTC"
    assert (len(mailbox.received), mail.to, mail.message["Subject"]) == (
        2,
        [address("ceo.morgan")],
        subject,
    )
    assert only_link(mail).startswith(f"{PUBLIC}/console/act/")
    listed = notified(client, admin, event_type="approval_step.escalated")
    assert [(n["person_id"], n["email"], n["status"], n["subject"]) for n in listed] == [
        ("vp.garcia", None, "skipped", subject),
        ("ceo.morgan", address("ceo.morgan"), "sent", subject),
    ]
    assert rows(db, "SELECT person_id FROM action_links ORDER BY notification_id") == [
        ("sm.lee",),
        ("ceo.morgan",),
    ]
