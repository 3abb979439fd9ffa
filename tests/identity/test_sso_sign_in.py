"""Single sign-on through the real test provider: who signed in, what they may do, and the
403 pages for everyone else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.identity.conftest import error_of, session_rows, sso_sign_in
from tests.identity.idp_server import IdentityProvider

pytestmark = pytest.mark.usefixtures("people")
FINANCE = ["finance"]


def test_a_person_signs_in_as_themselves_with_their_roles_scopes(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    response = sso_sign_in(
        client, idp, "/console/overrides", email="cfo.chen@example.com", groups=FINANCE
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/overrides"
    [row] = session_rows(db)
    assert row["api_key_id"] is None and row["person_id"] == "cfo.chen"
    assert row["scopes"] == ["audit:read", "audit:review"]
    assert row["lifetime"] == timedelta(hours=12)
    assert row["data"] == {}  # the visitor's state, nonce and verifier are gone
    html = client.get("/console/").get_data(as_text=True)
    assert "Signed in as <strong>cfo.chen</strong> (Chen) through single sign-on" in html


def test_the_email_matches_in_any_case(client: FlaskClient, idp: IdentityProvider, db: str) -> None:
    response = sso_sign_in(client, idp, email="VP.Garcia@EXAMPLE.com", groups=["deal-desk"])
    assert response.status_code == 302
    [row] = session_rows(db)
    assert row["person_id"] == "vp.garcia"
    assert row["scopes"] == ["audit:read", "requests", "approvals", "policies"]


def test_a_scim_user_name_matches_when_people_carry_one(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    """SCIM adds people.user_name (issue 24); the lookup reads it when the column exists."""
    with psycopg.connect(db, autocommit=True) as conn:
        had = conn.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'people' AND column_name = 'user_name'"
        ).fetchone()
        conn.execute("ALTER TABLE people ADD COLUMN IF NOT EXISTS user_name text")
        conn.execute("UPDATE people SET user_name = 'Chen.Okta' WHERE id = 'cfo.chen'")
    try:
        response = sso_sign_in(client, idp, email="chen.okta", groups=FINANCE)
    finally:
        if had is None:
            with psycopg.connect(db, autocommit=True) as conn:
                conn.execute("ALTER TABLE people DROP COLUMN user_name")
    assert response.status_code == 302
    assert [r["person_id"] for r in session_rows(db)] == ["cfo.chen"]


def test_an_unknown_person_gets_a_403_page_and_no_session(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    response = sso_sign_in(client, idp, email="stranger@example.com", groups=FINANCE)
    assert response.status_code == 403
    assert error_of(response) == (
        "No one in dealdesk's registry has the email or user name stranger@example.com."
        " Ask an administrator to add you."
    )
    assert session_rows(db) == []
    assert client.get("/console/").status_code == 302


def test_an_inactive_person_gets_a_403_page_and_no_session(
    client: FlaskClient, idp: IdentityProvider, db: str, admin: dict[str, str]
) -> None:
    body = {"name": "Chen", "tier": "cfo", "manager_id": "ceo.morgan", "active": False}
    body["email"] = "cfo.chen@example.com"
    assert client.put("/v1/people/cfo.chen", json=body, headers=admin).status_code == 200
    response = sso_sign_in(client, idp, email="cfo.chen@example.com", groups=FINANCE)
    assert response.status_code == 403
    assert error_of(response) == "cfo.chen is inactive in dealdesk's registry: no sign-in."
    assert session_rows(db) == []


def test_no_mapped_role_gets_a_403_page_naming_the_roles_that_would_admit(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    response = sso_sign_in(client, idp, email="am.jones@example.com", groups=["sales", "all"])
    assert response.status_code == 403
    assert error_of(response) == (
        "None of your roles (sales, all, from the `groups` claim) admits you."
        " Roles that would: finance, deal-desk, it."
    )
    assert session_rows(db) == []


def test_no_roles_claim_at_all_says_none(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    response = sso_sign_in(client, idp, email="am.jones@example.com", groups=None)
    assert response.status_code == 403
    assert error_of(response).startswith("None of your roles (none, from the `groups` claim)")


def test_no_person_claim_says_which(client: FlaskClient, idp: IdentityProvider, db: str) -> None:
    response = sso_sign_in(client, idp, email=None, groups=FINANCE)
    assert response.status_code == 403
    assert error_of(response) == "Your identity provider sent no `email` claim."


@pytest.mark.parametrize(
    ("roles_claim", "claims", "scopes"),
    [
        ("groups", {"groups": "finance"}, ["audit:read", "audit:review"]),
        ("groups", {"groups": ["staff", "it", 7]}, ["admin"]),
        (
            "realm_access.roles",
            {"realm_access": {"roles": ["deal-desk", "finance"]}},
            ["audit:read", "audit:review", "requests", "approvals", "policies"],
        ),
        ("roles", {"roles": ["finance"], "groups": ["it"]}, ["audit:read", "audit:review"]),
    ],
    ids=["a string", "a list", "a dotted nested path", "another claim than groups"],
)
def test_the_roles_claim(
    make_app: Callable[..., Flask],
    idp: IdentityProvider,
    db: str,
    roles_claim: str,
    claims: dict[str, Any],
    scopes: list[str],
) -> None:
    client = make_app(oidc_roles_claim=roles_claim).test_client()
    claims = {"groups": None, **claims}
    response = sso_sign_in(client, idp, email="cfo.chen@example.com", **claims)
    assert response.status_code == 302, error_of(response)
    assert [(r["person_id"], r["scopes"]) for r in session_rows(db)] == [("cfo.chen", scopes)]


def test_another_person_claim(
    make_app: Callable[..., Flask], idp: IdentityProvider, db: str
) -> None:
    client = make_app(oidc_person_claim="preferred_username").test_client()
    claims = {"email": "someone@else.example", "preferred_username": "SM.Lee@example.com"}
    response = sso_sign_in(client, idp, groups=FINANCE, **claims)
    assert response.status_code == 302
    assert [r["person_id"] for r in session_rows(db)] == ["sm.lee"]


def test_scopes_are_read_at_each_sign_in(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    sso_sign_in(client, idp, email="cfo.chen@example.com", groups=["finance"])
    sso_sign_in(client, idp, email="cfo.chen@example.com", groups=["it"])
    assert [r["scopes"] for r in session_rows(db)] == [["admin"]]  # the first one was replaced


def test_a_confidential_client_sends_its_secret(
    make_app: Callable[..., Flask], idp: IdentityProvider, db: str
) -> None:
    """With a client secret the code exchange sends it too: this provider advertises only
    `none` among its token endpoint auth methods, so in the form (client_secret_post); one that
    lists `client_secret_basic`, or none at all, gets HTTP Basic (RFC 6749's default)."""
    client = make_app(oidc_client_secret="s3cret:&=").test_client()
    response = sso_sign_in(client, idp, email="cfo.chen@example.com", groups=FINANCE)
    assert response.status_code == 302, error_of(response)
    assert [r["person_id"] for r in session_rows(db)] == ["cfo.chen"]


def test_two_active_people_with_one_email_are_refused(
    client: FlaskClient, idp: IdentityProvider, db: str, admin: dict[str, str]
) -> None:
    body = {"name": "Chen Two", "tier": "cfo", "email": "CFO.chen@example.com"}
    assert client.put("/v1/people/cfo.chen2", json=body, headers=admin).status_code == 201
    response = sso_sign_in(client, idp, email="cfo.chen@example.com", groups=FINANCE)
    assert response.status_code == 403
    assert error_of(response) == (
        "More than one person in dealdesk's registry is cfo.chen@example.com."
    )
    assert session_rows(db) == []
