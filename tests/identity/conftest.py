"""SSO fixtures: the real app configured for single sign-on through the real test provider,
people with emails, and the sign-in flow driven over HTTP (the test client plays the browser,
the provider is called for real)."""

from __future__ import annotations

import dataclasses
import html as html_module
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings, role_scopes
from api.policy.loader import PolicySet
from tests.console.conftest import bound_key, csrf_of, overrides, sign_in
from tests.http.conftest import ORG, admin, deal, make_key, org
from tests.identity.idp_server import (
    CLIENT_ID,
    ROLE_SCOPES,
    IdentityProvider,
    follow_authorize,
    idp,
)

PUBLIC_URL = "http://console.test"
SSO_LINK = re.compile(
    r'<a class="button" id="sso-sign-in" href="([^"]+)">Sign in with single sign-on</a>'
)


def sso_settings(settings: Settings, issuer: str, **changes: Any) -> Settings:
    base: dict[str, Any] = {
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "public_url": PUBLIC_URL,
        "oidc_role_scopes": role_scopes(ROLE_SCOPES),
    }
    return dataclasses.replace(settings, **{**base, **changes})


@pytest.fixture()
def make_app(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, idp: IdentityProvider
) -> Callable[..., Flask]:
    """An app on the test database with single sign-on settings (`issuer` defaults to the
    test provider's)."""

    def make(issuer: str | None = None, **changes: Any) -> Flask:
        configured = sso_settings(settings, issuer or idp.issuer, **changes)
        application = create_app(configured, pool=pool, policy_set=shipped)
        application.config["TESTING"] = True
        return application

    return make


@pytest.fixture()
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture()
def people(org: Any, client: FlaskClient, admin: dict[str, str]) -> None:
    """The org's people, each with the email `first.last@example.com`."""
    for person_id, tier, manager in ORG:
        body = {
            "name": person_id.split(".")[1].title(),
            "tier": tier,
            "manager_id": manager,
            "email": f"{person_id}@example.com",
        }
        response = client.put(f"/v1/people/{person_id}", json=body, headers=admin)
        assert response.status_code == 200, response.json


def start(client: FlaskClient, next_: str | None = None) -> Any:
    """Click "Sign in with single sign-on": the link to /console/oidc/start."""
    page = client.get("/console/sign-in", query_string={"next": next_} if next_ else None)
    html = html_module.unescape(page.get_data(as_text=True))
    found = SSO_LINK.search(html)
    assert found, "the sign-in page offers single sign-on"
    return client.get(found.group(1))


def sso_sign_in(
    client: FlaskClient, idp: IdentityProvider, next_: str | None = None, **claims: Any
) -> Any:
    """The whole flow: start, the provider's redirect back with a code, our callback."""
    idp.claims(**claims)
    started = start(client, next_)
    assert started.status_code == 302, started.get_data(as_text=True)
    assert started.headers["Location"].startswith(idp.issuer + "/authorize?")
    return client.get(follow_authorize(started.headers["Location"]))


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def session_rows(db: str) -> list[dict[str, Any]]:
    with psycopg.connect(db) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT api_key_id, person_id, scopes, expires_at - created_at AS lifetime, data"
            " FROM console_sessions WHERE person_id IS NOT NULL OR api_key_id IS NOT NULL"
            " ORDER BY created_at"
        ).fetchall()


def error_of(response: Any) -> str:
    html = response.get_data(as_text=True)
    start_at = html.index('id="sign-in-error">') + len('id="sign-in-error">')
    return html_module.unescape(html[start_at : html.index("</p>", start_at)])
