"""Mail fixtures: a real SMTP server (aiosmtpd) on 127.0.0.1, the app configured to mail
through it, a real dispatcher running, and an org whose people have email addresses."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from api.config import Settings
from api.dispatch.worker import Dispatcher
from api.storage import outbox
from tests.http.conftest import ORG, admin, app, deal, make_key
from tests.mail.smtpd import Handler, Mail, smtp_server
from tests.system.server import free_port

PUBLIC = "http://console.example.test"
SENDER = "dealdesk <dealdesk@example.test>"
__all__ = ["admin", "app", "make_key"]


def address(person_id: str) -> str:
    return f"{person_id}@example.test"


@pytest.fixture(autouse=True)
def mail_off_afterwards() -> Iterator[None]:
    """The app turns mail on for its process; later tests start from off."""
    yield
    outbox.configure_mail(False)


@pytest.fixture()
def smtp_port() -> int:
    return free_port()


@pytest.fixture()
def mailbox(smtp_port: int) -> Iterator[Handler]:
    """The SMTP server, up for the whole test (tests that start it late do not ask for it)."""
    with smtp_server(port=smtp_port) as (handler, _):
        yield handler


@pytest.fixture()
def settings(settings: Settings, smtp_port: int) -> Settings:
    return dataclasses.replace(
        settings,
        secret_key="test-secret-key-of-enough-length-0123456789",
        webhook_retry_schedule=(0.3, 0.3, 0.3),
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        mail_from=SENDER,
        public_url=PUBLIC,
        smtp_timeout_s=2.0,
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
def people(client: FlaskClient, admin: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """The test org, every person with an email address."""
    for person_id, tier, manager in ORG:
        body = {
            "name": person_id.split(".")[1].title(),
            "tier": tier,
            "manager_id": manager,
            "email": address(person_id),
        }
        response = client.put(f"/v1/people/{person_id}", json=body, headers=admin)
        assert response.status_code == 201, response.json
    return ORG


def submit(
    client: FlaskClient, admin: dict[str, str], requested_by: str = "am.jones", **fields: Any
) -> dict[str, Any]:
    fields.setdefault("account", {"id": "ACME", "name": "Acme Corp"})
    fields.setdefault("discount_pct", "12")
    body = {"deal": deal(**fields), "requested_by": requested_by}
    response = client.post("/v1/approval-requests", json=body, headers=admin)
    assert response.status_code == 201, response.json
    result: dict[str, Any] = response.json
    return result


def rows(db: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def notified(client: FlaskClient, admin: dict[str, str], **query: str) -> list[dict[str, Any]]:
    response = client.get("/v1/notifications", query_string=query, headers=admin)
    assert response.status_code == 200, response.json
    items: list[dict[str, Any]] = response.json["items"]
    return items


def settled(db: str, count: int, timeout: float = 15.0) -> list[tuple[Any, ...]]:
    """(person_id, event_type, status, tries) once `count` notifications left `pending`."""
    deadline = time.monotonic() + timeout
    query = (
        "SELECT person_id, event_type, status, tries FROM notifications "
        "WHERE status <> 'pending' ORDER BY id"
    )
    while True:
        found = rows(db, query)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def only_link(mail: Mail) -> str:
    assert len(mail.links) == 1, mail.part("plain")
    return mail.links[0]


def due(request: dict[str, Any]) -> str:
    """The subject's end for a step mail about `request`'s current step (the shipped policy
    times steps: 24 hours, so due tomorrow): ' — due 2026-12-06 13:44 UTC'."""
    step = request["steps"][request["current_step"]["seq"]]
    at = datetime.fromisoformat(step["due_at"].replace("Z", "+00:00"))
    if at.date() == datetime.now(UTC).date():
        return f" — due {at:%H:%M} UTC"
    return f" — due {at:%Y-%m-%d %H:%M} UTC"
