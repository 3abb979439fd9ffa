"""What single sign-on refuses: a forged state, code or nonce, an ID token for someone else's
audience or from another issuer or expired, and a provider that is down or answers garbage:
each a sign-in page saying so (never a 500), no session, one log line."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.identity.conftest import error_of, query_of, session_rows, sso_sign_in, start
from tests.identity.idp_server import IdentityProvider, follow_authorize

pytestmark = pytest.mark.usefixtures("people")
CHEN = {"email": "cfo.chen@example.com", "groups": ["finance"]}
AGAIN = "Please sign in again."


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "dealdesk.console.sso" and r.levelno >= logging.WARNING
    ]


def test_a_forged_state_is_refused(
    client: FlaskClient, idp: IdentityProvider, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    idp.claims(**CHEN)
    back = follow_authorize(start(client).headers["Location"])
    forged = back.replace("state=", "state=x")
    response = client.get(forged)
    assert response.status_code == 400
    assert error_of(response) == (
        f"Sign-in failed: This sign-in's state does not match the one this browser started. {AGAIN}"
    )
    assert session_rows(db) == []
    assert warnings_of(caplog) == [
        "single sign-on refused: This sign-in's state does not match the one this browser started"
    ]
    # the state was used up: not even the true one works now
    assert client.get(back).status_code == 400
    assert session_rows(db) == []


def test_a_callback_nobody_started_is_refused(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    idp.claims(**CHEN)
    back = follow_authorize(start(client).headers["Location"])
    other = client.application.test_client()  # another browser, which started nothing
    response = other.get(back)
    assert response.status_code == 400
    assert "state does not match" in error_of(response)
    assert session_rows(db) == []


def test_a_forged_code_is_refused_by_the_provider(
    client: FlaskClient, idp: IdentityProvider, db: str
) -> None:
    idp.claims(**CHEN)
    back = follow_authorize(start(client).headers["Location"])
    state = query_of(back)["state"]
    response = client.get(f"/console/oidc/callback?code=forged&state={state}")
    assert response.status_code == 400
    assert error_of(response) == (f"Sign-in failed: {idp.issuer}/token answered HTTP 400. {AGAIN}")
    assert session_rows(db) == []


def test_the_provider_saying_no_is_shown(client: FlaskClient, idp: IdentityProvider) -> None:
    state = query_of(start(client).headers["Location"])["state"]
    said = "error=access_denied&error_description=User+is+not+assigned"
    response = client.get(f"/console/oidc/callback?{said}&state={state}")
    assert response.status_code == 403
    assert error_of(response) == "Your identity provider did not sign you in: User is not assigned"


def test_an_error_without_our_state_shows_nobody_elses_words(
    client: FlaskClient, idp: IdentityProvider
) -> None:
    start(client)
    said = "error=access_denied&error_description=Call+555-0100+to+restore+access"
    response = client.get(f"/console/oidc/callback?{said}&state=forged")
    assert response.status_code == 400
    assert "555" not in response.get_data(as_text=True)
    assert "state does not match" in error_of(response)


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"nonce": "replayed-nonce"}, "the ID token's nonce is not the one this sign-in sent"),
        ({"aud": "someone-elses-app"}, "the ID token was refused: Audience doesn't match"),
        ({"iss": "http://127.0.0.1:9/evil"}, "the ID token was refused: Invalid issuer"),
        ({"exp": "past"}, "the ID token was refused: Signature has expired"),
        ({"sub": None}, 'the ID token was refused: Token is missing the "sub" claim'),
    ],
    ids=["nonce mismatch", "wrong aud", "wrong iss", "expired", "no sub"],
)
def test_an_id_token_we_cannot_trust_is_refused(
    client: FlaskClient,
    idp: IdentityProvider,
    db: str,
    caplog: pytest.LogCaptureFixture,
    claims: dict[str, Any],
    why: str,
) -> None:
    if claims.get("exp") == "past":
        claims = {"exp": int(time.time()) - 120, "iat": int(time.time()) - 3600}
    response = sso_sign_in(client, idp, **CHEN, **claims)
    assert response.status_code == 400
    assert error_of(response) == f"Sign-in failed: {why}. {AGAIN}"
    assert session_rows(db) == []
    assert warnings_of(caplog) == [f"single sign-on refused: {why}"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Garbage(BaseHTTPRequestHandler):
    """A provider that answers every request with an HTML error page."""

    def do_GET(self) -> None:
        body = b"<html><body>502 upstream hiccup</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def garbage() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_provider_that_is_down_gives_a_clear_page_and_one_log_line(
    make_app: Callable[..., Flask], db: str, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = f"http://127.0.0.1:{free_port()}"
    client = make_app(issuer).test_client()
    response = start(client)
    assert response.status_code == 502
    assert error_of(response) == (
        "Sign-in failed: The identity provider could not be reached or gave an answer we"
        " cannot use. Try again in a moment."
    )
    assert "Traceback" not in response.get_data(as_text=True)
    [line] = warnings_of(caplog)
    assert line.startswith(
        "single sign-on: the identity provider is unavailable: "
        f"{issuer}/.well-known/openid-configuration could not be reached ("
    )
    assert session_rows(db) == []


def test_a_provider_answering_garbage_gives_a_clear_page_and_one_log_line(
    make_app: Callable[..., Flask], garbage: str, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app(garbage).test_client()
    response = start(client)
    assert response.status_code == 502
    assert error_of(response).startswith("Sign-in failed: The identity provider could not")
    assert warnings_of(caplog) == [
        "single sign-on: the identity provider is unavailable: "
        f"{garbage}/.well-known/openid-configuration did not answer JSON"
    ]


def test_a_discovery_document_naming_another_issuer_is_refused(
    make_app: Callable[..., Flask], idp: IdentityProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """Entra's /common names `{tenantid}` as issuer: configure the tenant's own instead."""
    localhost = idp.issuer.replace("127.0.0.1", "localhost")
    response = start(make_app(localhost).test_client())
    assert response.status_code == 502
    assert warnings_of(caplog) == [
        "single sign-on: the identity provider is unavailable: its discovery document names"
        f" issuer '{idp.issuer}', not '{localhost}'"
    ]
