"""One-click links over HTTP: GET never acts (fetched like a mail scanner), the POST needs the
page's CSRF token and gets the API's 403/409/412, and dead links answer 410 saying why."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.service import action_links
from api.storage.database import transaction
from tests.mail.conftest import only_link, rows, submit
from tests.mail.smtpd import Handler

LIVE = pytest.mark.usefixtures("people", "mailbox", "dispatcher")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SCANNERS = ["Microsoft Safe Links", "Mimecast URL scanner", "curl/8.5"]


def path_of(link: str) -> str:
    return link.removeprefix("http://console.example.test")


def mailed_link(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, **deal: Any
) -> tuple[dict[str, Any], str]:
    request = submit(client, admin, **deal)
    mail = mailbox.wait_for(len(mailbox.received) + 1)[-1]
    return request, path_of(only_link(mail))


def post(client: FlaskClient, path: str, **form: str) -> Any:
    page = client.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found is not None, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": found.group(1), **form})


def state(db: str, request_id: str) -> tuple[str, int]:
    [(current, version)] = rows(
        db, "SELECT state, version FROM approval_requests WHERE id = %s", uuid.UUID(request_id)
    )
    return current, version


def audit_count(db: str) -> int:
    return int(rows(db, "SELECT count(*) FROM audit_events")[0][0])


@LIVE
def test_get_never_acts_and_the_person_still_acts_after_scanners(
    app: Flask, client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request, path = mailed_link(client, admin, mailbox)
    before = (state(db, request["id"]), audit_count(db))
    for agent in SCANNERS:  # each its own client: scanners share no cookies with the person
        seen = app.test_client().get(path, headers={"User-Agent": agent})
        assert seen.status_code == 200
        html = seen.get_data(as_text=True)
        assert "Q-1" in html and "Acme Corp" in html and "<strong>12% discount</strong>" in html
        assert "discount_pct 12: needs approval" in html
        assert 'value="approve"' in html and 'value="reject"' in html and 'value="return"' in html
        assert '<label for="comment">' in html
    assert (state(db, request["id"]), audit_count(db)) == before
    assert rows(db, "SELECT used_at FROM action_links") == [(None,)]
    done = post(client, path, action="approve", comment="Good for a 3-year term.", version="1")
    assert done.status_code == 200, done.get_data(as_text=True)
    assert 'data-state="approved"' in done.get_data(as_text=True)
    assert state(db, request["id"]) == ("approved", 2)
    [(actor, payload)] = rows(
        db, "SELECT actor, payload FROM audit_events WHERE type = 'request.approve'"
    )
    assert actor == "sm.lee"
    assert payload["via"] == "email_link"
    assert payload["comment"] == "Good for a 3-year term."
    assert payload["step"] == {"seq": 0, "tier": "sales_manager", "approver_id": "sm.lee"}
    again = client.get(path)
    assert again.status_code == 410
    assert 'data-reason="used"' in again.get_data(as_text=True)
    assert "already been used" in again.get_data(as_text=True)


@LIVE
def test_a_post_without_the_csrf_token_is_refused(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request, path = mailed_link(client, admin, mailbox)
    client.get(path)
    refused = client.post(path, data={"action": "approve", "version": "1"})
    assert refused.status_code == 400
    assert "security token is missing" in refused.get_data(as_text=True)
    assert state(db, request["id"]) == ("pending", 1)
    assert rows(db, "SELECT used_at FROM action_links") == [(None,)]


@LIVE
def test_returning_needs_coaching_and_records_it(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request, path = mailed_link(client, admin, mailbox)
    bare = post(client, path, action="return", comment="  ", version="1")
    assert bare.status_code == 422
    assert "Returning needs coaching" in bare.get_data(as_text=True)
    assert state(db, request["id"]) == ("pending", 1)
    back = post(client, path, action="return", comment="Try 10% first.", version="1")
    assert back.status_code == 200
    assert state(db, request["id"]) == ("returned", 2)
    [(payload,)] = rows(db, "SELECT payload FROM audit_events WHERE type = 'request.return'")
    assert (payload["via"], payload["comment"]) == ("email_link", "Try 10% first.")


@LIVE
def test_a_stale_form_gets_the_apis_412(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request, path = mailed_link(client, admin, mailbox)
    stale = post(client, path, action="approve", version="7")
    assert stale.status_code == 412
    assert "The request is at version 1, not 7" in stale.get_data(as_text=True)
    assert state(db, request["id"]) == ("pending", 1)


def issue(pool: ConnectionPool, request_id: str, seq: int, person: str) -> str:
    with transaction(pool) as conn:
        token = action_links.issue(
            conn, None, uuid.UUID(request_id), seq, person, datetime.now(UTC)
        )
    return f"/console/act/{token}"


@LIVE
def test_someone_who_may_not_act_gets_the_apis_403_and_the_link_survives(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, pool: ConnectionPool, db: str
) -> None:
    request, _ = mailed_link(client, admin, mailbox)
    path = issue(pool, request["id"], 0, "am.kim")
    refused = post(client, path, action="approve", version="1")
    assert refused.status_code == 403
    assert "'am.kim' is not an approver (or their delegate) on this request." in (
        refused.get_data(as_text=True).replace("&#39;", "'")
    )
    assert state(db, request["id"]) == ("pending", 1)
    assert rows(db, "SELECT count(*) FROM action_links WHERE used_at IS NOT NULL") == [(0,)]


@LIVE
def test_a_later_steps_approver_gets_the_apis_409(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, pool: ConnectionPool, db: str
) -> None:
    request, _ = mailed_link(client, admin, mailbox, discount_pct="18", list_amount="1500000.00")
    path = issue(pool, request["id"], 0, "cfo.chen")
    refused = post(client, path, action="approve", version="1")
    assert refused.status_code == 409
    assert "Step 1 (sales_director) must be acted on first" in refused.get_data(as_text=True)
    assert state(db, request["id"]) == ("pending", 1)


@LIVE
def test_an_expired_link_is_410(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request, path = mailed_link(client, admin, mailbox)
    with_time = "UPDATE action_links SET created_at = now() - interval '72 hours 1 minute'"
    rows_changed(db, with_time)
    gone = client.get(path)
    assert gone.status_code == 410
    assert 'data-reason="expired"' in gone.get_data(as_text=True)
    assert "expired" in gone.get_data(as_text=True)
    refused = client.post(path, data={"action": "approve", "version": "1"})
    assert refused.status_code == 400  # no CSRF token: refused before anything is read
    assert state(db, request["id"]) == ("pending", 1)


@LIVE
def test_a_step_no_longer_pending_is_410(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request, path = mailed_link(client, admin, mailbox)
    page = client.get(path)
    token = CSRF.search(page.get_data(as_text=True))
    assert token is not None
    body = {"approver_id": "sm.lee", "comment": "Not this quarter."}
    acted = client.post(f"/v1/approval-requests/{request['id']}/reject", json=body, headers=admin)
    assert acted.status_code == 200
    gone = client.get(path)
    assert gone.status_code == 410
    assert 'data-reason="not_pending"' in gone.get_data(as_text=True)
    late = client.post(
        path, data={"csrf_token": token.group(1), "action": "approve", "version": "2"}
    )
    assert late.status_code == 410
    assert state(db, request["id"]) == ("rejected", 2)


@LIVE
def test_a_revision_retires_the_link(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str
) -> None:
    request, path = mailed_link(client, admin, mailbox)
    revised = {"requested_by": "am.jones", "deal": {**request["deal"], "discount_pct": "13"}}
    changed = client.post(
        f"/v1/approval-requests/{request['id']}/revise", json=revised, headers=admin
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["current_step"]["seq"] == 0  # the same step is pending again
    gone = client.get(path)
    assert gone.status_code == 410
    assert 'data-reason="not_pending"' in gone.get_data(as_text=True)


def test_an_unknown_link_is_404(client: FlaskClient) -> None:
    missing = client.get("/console/act/" + "x" * 43)
    assert missing.status_code == 404
    assert "not one we sent" in missing.get_data(as_text=True)


def rows_changed(db: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(db) as conn:
        conn.execute(statement)  # type: ignore[arg-type]
