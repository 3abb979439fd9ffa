"""An SSO session: bound to its person (reviews as them, segregation of duties holds), ended
at sign-out, after 8 h idle, after 12 h in all, and at once when the person is made inactive;
DEALDESK_CONSOLE_KEY_SIGNIN=0 removes key sign-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.console.conftest import csrf_of, sign_in
from tests.identity.conftest import error_of, session_rows, sso_sign_in
from tests.identity.idp_server import IdentityProvider

pytestmark = pytest.mark.usefixtures("people")
CHEN = {"email": "cfo.chen@example.com", "groups": ["finance"]}
TO_SIGN_IN = "/console/sign-in?next=/console/"
NOTE = "Checked against the competitor quote; the logo is worth it."


def age(db: str, sql: str) -> None:
    """Move the signed-in session's stored times (never the clock)."""
    with psycopg.connect(db, autocommit=True) as conn:
        assert conn.execute(sql + " WHERE person_id IS NOT NULL").rowcount == 1


def signed_in_as_chen(client: FlaskClient, idp: IdentityProvider) -> None:
    assert sso_sign_in(client, idp, **CHEN).status_code == 302
    assert client.get("/console/").status_code == 200


def test_eight_hours_idle_ends_it(client: FlaskClient, idp: IdentityProvider, db: str) -> None:
    signed_in_as_chen(client, idp)
    age(db, "UPDATE console_sessions SET last_seen_at = now() - interval '7 hours 59 minutes'")
    assert client.get("/console/").status_code == 200  # still alive, and touched
    age(db, "UPDATE console_sessions SET last_seen_at = now() - interval '8 hours 1 minute'")
    response = client.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"] == TO_SIGN_IN


def test_twelve_hours_in_all_ends_it_however_busy(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    signed_in_as_chen(client, idp)
    age(
        db,
        "UPDATE console_sessions SET created_at = now() - interval '11 hours 59 minutes',"
        " expires_at = now() + interval '1 minute', last_seen_at = now()",
    )
    assert client.get("/console/").status_code == 200
    age(
        db,
        "UPDATE console_sessions SET created_at = now() - interval '12 hours 1 minute',"
        " expires_at = now() - interval '1 minute', last_seen_at = now()",
    )
    response = client.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"] == TO_SIGN_IN


def test_making_the_person_inactive_ends_it_at_once(
    client: FlaskClient, idp: IdentityProvider, db: str, admin: dict[str, str]
) -> None:
    signed_in_as_chen(client, idp)
    body = {"name": "Chen", "tier": "cfo", "manager_id": "ceo.morgan", "active": False}
    body["email"] = "cfo.chen@example.com"
    assert client.put("/v1/people/cfo.chen", json=body, headers=admin).status_code == 200
    response = client.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"] == TO_SIGN_IN
    assert session_rows(db) == []  # the row is gone, not only refused


def test_a_people_bound_key_session_ends_too_when_its_person_is_made_inactive(
    client: FlaskClient, bound_key: Callable[..., str], db: str, admin: dict[str, str]
) -> None:
    sign_in(client, bound_key("cfo.chen", "audit:read", "audit:review"))
    assert client.get("/console/").status_code == 200
    body = {"name": "Chen", "tier": "cfo", "manager_id": "ceo.morgan", "active": False}
    assert client.put("/v1/people/cfo.chen", json=body, headers=admin).status_code == 200
    assert client.get("/console/").headers["Location"] == TO_SIGN_IN


def test_sign_out_ends_it(client: FlaskClient, idp: IdentityProvider, db: str) -> None:
    signed_in_as_chen(client, idp)
    html = client.get("/console/").get_data(as_text=True)
    response = client.post("/console/sign-out", data={"csrf_token": csrf_of(html)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/sign-in"
    assert session_rows(db) == []
    assert client.get("/console/").headers["Location"] == TO_SIGN_IN


def test_the_sso_cookie_never_reaches_v1(client: FlaskClient, idp: IdentityProvider) -> None:
    signed_in_as_chen(client, idp)
    response = client.get("/v1/overrides")
    assert response.status_code == 401
    assert response.json["status"] == 401


def test_key_sign_in_switched_off(
    make_app: Callable[..., Flask], client: FlaskClient, make_key: Callable[..., str], db: str
) -> None:
    key = make_key("audit:read", name="auditor")
    assert sign_in(client, key).status_code == 302  # a key session made before the switch
    strict = make_app(console_key_signin=False).test_client()
    strict.set_cookie("dealdesk_console", client.get_cookie("dealdesk_console").value)
    assert strict.get("/console/").headers["Location"] == TO_SIGN_IN  # it ended
    html = strict.get("/console/sign-in").get_data(as_text=True)
    assert "Sign in with single sign-on" in html
    assert 'name="api_key"' not in html and "Or with an API key" not in html
    response = strict.post("/console/sign-in", data={"api_key": key, "csrf_token": csrf_of(html)})
    assert response.status_code == 403
    assert error_of(response) == "Sign-in with an API key is switched off here."
    assert session_rows(db) == []


def test_without_a_provider_the_page_offers_only_the_key(
    make_app: Callable[..., Flask], make_key: Callable[..., str]
) -> None:
    plain = make_app(oidc_issuer=None, oidc_client_id=None, public_url=None).test_client()
    html = plain.get("/console/sign-in").get_data(as_text=True)
    assert "single sign-on" not in html and 'name="api_key"' in html
    response = plain.get("/console/oidc/start")
    assert response.status_code == 404
    assert "Single sign-on is not configured on this server." in response.get_data(as_text=True)
    assert plain.get("/console/oidc/callback?code=x&state=y").status_code == 404


def review(client: FlaskClient, oid: str) -> Any:
    html = client.get(f"/console/overrides/{oid}").get_data(as_text=True)
    data = {"csrf_token": csrf_of(html), "status": "accepted", "note": NOTE}
    return html, client.post(f"/console/overrides/{oid}/reviews", data=data)


def test_a_review_through_sso_is_made_as_that_person(
    client: FlaskClient,
    idp: IdentityProvider,
    overrides: list[dict[str, Any]],
    admin: dict[str, str],
) -> None:
    oid = overrides[0]["id"]  # made by vp.garcia
    signed_in_as_chen(client, idp)
    html, response = review(client, oid)
    assert "Record your review as cfo.chen" in html
    assert response.status_code == 302
    api = client.get(f"/v1/overrides/{oid}", headers=admin).json
    assert [(r["reviewer_id"], r["status"]) for r in api["reviews"]] == [("cfo.chen", "accepted")]
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    reviewed = [e for e in events if e["type"] == "override.reviewed"]
    assert [(e["actor"], e["payload"]["via_key"]) for e in reviewed] == [("cfo.chen", "sso")]


def test_the_executive_cannot_review_their_own_override_through_sso(
    client: FlaskClient,
    idp: IdentityProvider,
    overrides: list[dict[str, Any]],
    admin: dict[str, str],
) -> None:
    oid = overrides[0]["id"]  # made by vp.garcia
    response = sso_sign_in(client, idp, email="vp.garcia@example.com", groups=["finance"])
    assert response.status_code == 302
    html, response = review(client, oid)
    assert '<form id="review-form"' not in html
    assert "You made this override: the executive can never review it." in html
    assert response.status_code == 403
    assert "The executive who made an override can never review it." in response.get_data(
        as_text=True
    )
    assert client.get(f"/v1/overrides/{oid}", headers=admin).json["reviews"] == []


def test_a_role_without_audit_review_shows_no_form_and_says_why(
    client: FlaskClient,
    idp: IdentityProvider,
    overrides: list[dict[str, Any]],
    admin: dict[str, str],
) -> None:
    oid = overrides[0]["id"]
    response = sso_sign_in(client, idp, email="sd.patel@example.com", groups=["deal-desk"])
    assert response.status_code == 302
    html, response = review(client, oid)
    assert '<form id="review-form"' not in html
    assert "Reviewing needs a role that grants the audit:review scope." in html
    assert response.status_code == 403
    assert client.get(f"/v1/overrides/{oid}", headers=admin).json["reviews"] == []
