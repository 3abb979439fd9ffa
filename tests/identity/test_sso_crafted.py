"""Tokens and answers no honest provider sends, from a scripted provider on loopback (a real
HTTP server serving discovery, JWKS and a token endpoint that answers what the test says):
PKCE as sent, `alg: none`, HS256 keyed with the public key, an unknown `kid`, a malformed
token, and garbage where the JWKS or the token answer should be."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient

from tests.identity.conftest import PUBLIC_URL, error_of, query_of, session_rows, start
from tests.identity.idp_server import CLIENT_ID

pytestmark = pytest.mark.usefixtures("people")
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.posted.append(dict(urllib.parse.parse_qsl(self.rfile.read(length).decode())))
        self.answer()

    def answer(self) -> None:
        status, body = self.server.routes.get(self.path.split("?")[0], (404, b"{}"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Scripted(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.posted: list[dict[str, str]] = []
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
        discovery = {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        self.routes: dict[str, tuple[int, bytes]] = {
            "/.well-known/openid-configuration": (200, json.dumps(discovery).encode()),
            "/jwks": (200, json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]}).encode()),
        }

    def claims(self, nonce: str, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.url, "aud": CLIENT_ID, "sub": "00u1", "iat": now, "exp": now + 300}
        person = {"email": "cfo.chen@example.com", "groups": ["finance"]}
        return {**base, "nonce": nonce, **person, **changes}

    def id_token(self, token: str) -> None:
        self.routes["/token"] = (200, json.dumps({"id_token": token}).encode())


@pytest.fixture()
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture()
def sso(make_app: Callable[..., Flask], scripted: Scripted) -> FlaskClient:
    return make_app(scripted.url).test_client()


def begin(client: FlaskClient) -> dict[str, str]:
    """Click the single sign-on link; the query the browser would take to the provider."""
    response = start(client)
    assert response.status_code == 302
    return query_of(response.headers["Location"])


def finish(client: FlaskClient, sent: dict[str, str]) -> Any:
    return client.get(f"/console/oidc/callback?code=the-code&state={sent['state']}")


def signed(claims: dict[str, Any], kid: str = "k1") -> str:
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": kid})


def test_the_authorization_request_and_the_code_exchange(
    sso: FlaskClient, scripted: Scripted, db: str
) -> None:
    sent = begin(sso)
    assert {k: sent[k] for k in ("response_type", "client_id", "redirect_uri", "scope")} == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": f"{PUBLIC_URL}/console/oidc/callback",
        "scope": "openid email profile",
    }
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert len(sent["state"]) >= 43 and len(sent["nonce"]) >= 43
    scripted.id_token(signed(scripted.claims(sent["nonce"])))
    response = finish(sso, sent)
    assert response.status_code == 302, error_of(response)
    [form] = scripted.posted
    verifier = form.pop("code_verifier")
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == sent["code_challenge"]
    assert form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": f"{PUBLIC_URL}/console/oidc/callback",
        "client_id": CLIENT_ID,
    }
    assert [r["person_id"] for r in session_rows(db)] == ["cfo.chen"]


def none_token(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': 'k1'})}.{part(claims)}."


def hs256_with_the_public_key(claims: dict[str, Any]) -> str:
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    signing = ".".join(
        base64.urlsafe_b64encode(json.dumps(v).encode()).rstrip(b"=").decode()
        for v in (header, claims)
    )
    mac = hmac.new(PUBLIC_PEM, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (none_token, "the ID token was refused: The specified alg value is not allowed"),
        (
            hs256_with_the_public_key,
            "the ID token was refused: The specified alg value is not allowed",
        ),
        (
            lambda c: signed(c, kid="k2"),
            "the ID token's key 'k2' is not among the provider's keys",
        ),
        (lambda c: "not-a-jwt", "the ID token is malformed (Not enough segments)"),
    ],
    ids=["alg none", "HS256 keyed with the public key", "unknown kid", "malformed"],
)
def test_a_forged_id_token_is_refused(
    sso: FlaskClient, scripted: Scripted, db: str, make: Callable[[dict[str, Any]], str], why: str
) -> None:
    sent = begin(sso)
    scripted.id_token(make(scripted.claims(sent["nonce"])))
    response = finish(sso, sent)
    assert response.status_code == 400
    assert error_of(response) == f"Sign-in failed: {why}. Please sign in again."
    assert session_rows(db) == []


@pytest.mark.parametrize(
    ("route", "answer"),
    [
        ("/jwks", (200, b"<html>maintenance</html>")),
        ("/jwks", (200, b'{"keys": "none"}')),
        ("/token", (200, b"<html>maintenance</html>")),
        ("/token", (200, b'{"access_token": "x"}')),
        ("/token", (503, b"{}")),
    ],
    ids=["jwks not json", "jwks no keys", "token not json", "token no id_token", "token 503"],
)
def test_garbage_from_the_provider_is_a_502_page(
    sso: FlaskClient,
    scripted: Scripted,
    db: str,
    caplog: pytest.LogCaptureFixture,
    route: str,
    answer: tuple[int, bytes],
) -> None:
    sent = begin(sso)
    scripted.id_token(signed(scripted.claims(sent["nonce"])))
    scripted.routes[route] = answer
    response = finish(sso, sent)
    assert response.status_code == 502
    assert error_of(response) == (
        "Sign-in failed: The identity provider could not be reached or gave an answer we"
        " cannot use. Try again in a moment."
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "dealdesk.console.sso"]
    assert len(lines) == 1
    assert lines[0].startswith("single sign-on: the identity provider is unavailable: ")
    assert session_rows(db) == []
