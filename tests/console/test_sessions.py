"""Console sign-in and its session: cookie, server-side row, CSRF, revocation, idle, /v1."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.console.blueprint import CSP
from api.service.keys import withdraw_key
from api.storage.database import transaction
from tests.console.conftest import csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("org")
COOKIE = "dealdesk_console"


def session_rows(db: str) -> list[tuple[str, Any, dict[str, Any]]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT id_hash, api_key_id, data FROM console_sessions ORDER BY created_at"
        ).fetchall()


def cookie_of(client: FlaskClient, name: str = COOKIE) -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def test_sign_in_sets_a_signed_random_id_and_a_server_side_row(
    client: FlaskClient, make_key: Callable[..., str], db: str
) -> None:
    key = make_key("audit:read", name="auditor")
    response = sign_in(client, key)
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE))
    attributes = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
    assert attributes == {"httponly", "path", "samesite"}  # no Secure over plain http
    assert "SameSite=Lax" in header
    value = cookie_of(client)
    session_id, _, signature = value.rpartition(".")
    assert session_id and signature
    assert key not in value and hashlib.sha256(key.encode()).hexdigest() not in value
    rows = session_rows(db)
    signed_in = [r for r in rows if r[1] is not None]
    assert [r[0] for r in signed_in] == [hashlib.sha256(session_id.encode()).hexdigest()]
    assert signed_in[0][2] == {}  # sign-in starts afresh: the visitor's token is dropped
    client.get("/console/")
    data = next(r[2] for r in session_rows(db) if r[1] is not None)
    assert set(data) == {"csrf_token"}  # the row holds the CSRF token, never the key


def test_behind_https_the_cookie_is_secure_and_host_prefixed(
    client: FlaskClient, make_key: Callable[..., str]
) -> None:
    https = {"base_url": "https://console.example"}
    page = client.get("/console/sign-in", **https)
    token = csrf_of(page.get_data(as_text=True))
    key = make_key("audit:read", name="auditor")
    response = client.post(
        "/console/sign-in",
        data={"api_key": key, "csrf_token": token},
        headers={"Referer": "https://console.example/console/sign-in"},
        **https,
    )
    assert response.status_code == 302
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-dealdesk")
    )
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Path=/" in header and "Domain" not in header
    assert client.get("/console/", **https).status_code == 200


@pytest.mark.parametrize(
    ("scopes", "status", "message"),
    [
        (None, 401, "That API key is not valid, or it has been revoked."),
        (
            ("overrides", "audit:review"),
            403,
            "That API key is not bound to a person and lacks the `audit:read` scope.",
        ),
    ],
    ids=["unknown key", "unbound key without audit:read"],
)
def test_sign_in_refused(
    client: FlaskClient,
    make_key: Callable[..., str],
    db: str,
    scopes: tuple[str, ...] | None,
    status: int,
    message: str,
) -> None:
    key = make_key(*scopes, name="weak") if scopes else "ddk_not-a-key"
    response = sign_in(client, key)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert [r for r in session_rows(db) if r[1] is not None] == []
    assert client.get("/console/").headers["Location"].startswith("/console/sign-in")


def test_admin_implies_audit_read(client: FlaskClient, make_key: Callable[..., str]) -> None:
    assert sign_in(client, make_key("admin", name="root")).status_code == 302
    assert client.get("/console/").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(
    client: FlaskClient, make_key: Callable[..., str], db: str
) -> None:
    key = make_key("audit:read", name="auditor")
    client.get("/console/sign-in")
    response = client.post("/console/sign-in", data={"api_key": key})
    assert response.status_code == 400
    assert "security token is missing or stale" in response.get_data(as_text=True)
    assert [r for r in session_rows(db) if r[1] is not None] == []
    forged = client.post("/console/sign-in", data={"api_key": key, "csrf_token": "forged"})
    assert forged.status_code == 400


def test_v1_never_accepts_the_cookie_nor_needs_a_csrf_token(
    client: FlaskClient, make_key: Callable[..., str], admin: dict[str, str]
) -> None:
    assert sign_in(client, make_key("admin", name="root")).status_code == 302
    assert client.get("/console/").status_code == 200
    response = client.get("/v1/overrides")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"] == "Send an API key as `Authorization: Bearer <key>`."
    person = {"name": "New", "tier": "account_manager", "manager_id": "sm.lee"}
    created = client.put("/v1/people/am.new", json=person, headers=admin)
    assert created.status_code == 201  # a bearer POST/PUT with the cookie present: no CSRF


def test_revoking_the_key_ends_its_session_at_once(
    client: FlaskClient, make_key: Callable[..., str], pool: ConnectionPool, db: str
) -> None:
    sign_in(client, make_key("audit:read", name="auditor"))
    assert client.get("/console/overrides").status_code == 200
    with transaction(pool) as conn:
        withdraw_key(conn, "auditor", "test")
    response = client.get("/console/overrides")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/sign-in?next=/console/overrides"
    assert [r for r in session_rows(db) if r[1] is not None] == []


def test_eight_hours_idle_ends_the_session(
    client: FlaskClient, make_key: Callable[..., str], db: str
) -> None:
    sign_in(client, make_key("audit:read", name="auditor"))
    with psycopg.connect(db) as conn:
        conn.execute(
            "UPDATE console_sessions SET last_seen_at = now() - interval '7 hours 59 minutes'"
        )
    assert client.get("/console/").status_code == 200  # and this touches it
    with psycopg.connect(db) as conn:
        conn.execute(
            "UPDATE console_sessions SET last_seen_at = now() - interval '8 hours 1 minute'"
        )
    assert client.get("/console/").status_code == 302


def test_a_tampered_cookie_is_no_session(client: FlaskClient, make_key: Callable[..., str]) -> None:
    sign_in(client, make_key("audit:read", name="auditor"))
    session_id, _, signature = cookie_of(client).rpartition(".")
    client.set_cookie(COOKIE, f"{session_id}x.{signature}")
    assert client.get("/console/").status_code == 302
    client.set_cookie(COOKIE, f"{session_id}.{signature[:-2]}AA")
    assert client.get("/console/").status_code == 302


def test_sign_out_deletes_the_row_and_the_cookie(
    client: FlaskClient, make_key: Callable[..., str], db: str
) -> None:
    sign_in(client, make_key("audit:read", name="auditor"))
    token = csrf_of(client.get("/console/").get_data(as_text=True))
    response = client.post("/console/sign-out", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get_cookie(COOKIE) is None
    assert session_rows(db) == []
    assert client.get("/console/").status_code == 302


def test_sign_in_rotates_the_session_id(client: FlaskClient, make_key: Callable[..., str]) -> None:
    client.get("/console/sign-in")
    visitor = cookie_of(client)
    sign_in(client, make_key("audit:read", name="auditor"))
    assert cookie_of(client) != visitor


@pytest.mark.parametrize(
    ("next_", "location"),
    [
        ("/console/audit", "/console/audit"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/console//evil.example", "/console/"),
    ],
    ids=["inside the console", "another site", "scheme-relative", "double slash"],
)
def test_sign_in_returns_only_inside_the_console(
    client: FlaskClient, make_key: Callable[..., str], next_: str, location: str
) -> None:
    response = sign_in(client, make_key("audit:read", name="auditor"), next_)
    assert response.headers["Location"] == location


def test_headers_on_every_console_page(client: FlaskClient, make_key: Callable[..., str]) -> None:
    sign_in(client, make_key("audit:read", "policies", name="auditor"))
    for path in ("/console/sign-in", "/console/", "/console/overrides", "/console/audit"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        html = response.get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and " onclick" not in html
        assert '"historyCacheSize":0' in html


def test_root_redirects_to_the_console(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"


def test_an_htmx_request_without_a_session_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/console/overrides", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/console/sign-in?next=/console/overrides"


def test_static_files_touch_no_session(client: FlaskClient, db: str) -> None:
    with client.get("/console/static/vendor/htmx.min.js") as response:
        assert response.status_code == 200
        assert response.headers.get("Set-Cookie") is None
        assert response.headers["Content-Security-Policy"] == CSP
    assert session_rows(db) == []
