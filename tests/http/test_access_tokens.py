"""OAuth 2.0 access tokens on /v1 (DESIGN 13) against a real issuer on loopback: discovery and
JWKS over HTTP, tokens signed with real RSA and EC keys. Algorithms, claims, scopes, key
rotation and its cooldown, the errors' headers, the audit actor, and the fast lane."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.http.fastlane import FastLane
from api.policy.loader import PolicySet
from tests.http.conftest import deal
from tests.http.issuer import AUDIENCE, Issuer, ec_key, rsa_key, serving

pytestmark = pytest.mark.usefixtures("org")


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, Any]:
    return {"rsa1": rsa_key(), "rsa2": rsa_key(), "ec1": ec_key(), "ghost": rsa_key()}


@pytest.fixture()
def issuer(signing_keys: dict[str, Any]) -> Iterator[Issuer]:
    made = Issuer()
    made.add("rsa1", signing_keys["rsa1"])
    made.add("ec1", signing_keys["ec1"])
    made.add("rsa2", signing_keys["rsa2"], publish=False)
    made.add("ghost", signing_keys["ghost"], publish=False)
    with serving(made) as running:
        yield running


@pytest.fixture()
def app(settings: Settings, pool: ConnectionPool, shipped: PolicySet, issuer: Issuer) -> Flask:
    configured = dataclasses.replace(settings, jwt_issuer=issuer.url, jwt_audience=AUDIENCE)
    application = create_app(configured, pool=pool, policy_set=shipped)
    application.config["TESTING"] = True
    return application


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def evaluate(client: FlaskClient, token: str) -> Any:
    return client.post(
        "/v1/evaluations",
        json={"deal": deal(discount_pct="18"), "requested_by": "am.jones"},
        headers=bearer(token),
    )


def refused(response: Any, detail: str) -> None:
    """401, problem+json naming why, and RFC 6750's header saying the same."""
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.json["detail"] == detail
    assert response.json["type"] == "urn:dealdesk:problem:invalid-token"
    said = detail.replace('"', "'")
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{said}"'
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(signature)}"


@pytest.mark.parametrize(("kid", "alg"), [("rsa1", "RS256"), ("rsa1", "PS256"), ("ec1", "ES256")])
def test_the_three_algorithms_are_accepted(
    client: FlaskClient, issuer: Issuer, kid: str, alg: str
) -> None:
    response = evaluate(client, issuer.token(kid, alg))
    assert response.status_code == 200, response.json
    assert response.json["outcome"] == "needs_approval"
    assert response.json["required_tiers"] == ["sales_director"]
    assert (issuer.discoveries, issuer.fetches) == (1, 1)


def test_alg_none_is_refused(client: FlaskClient, issuer: Issuer) -> None:
    token = unsigned({"alg": "none", "kid": "rsa1"}, issuer.claims())
    refused(evaluate(client, token), "The token's alg 'none' is refused: RS256, PS256, ES256 only.")


def test_hs256_signed_with_the_public_key_is_refused(
    client: FlaskClient, issuer: Issuer, signing_keys: dict[str, Any]
) -> None:
    """The classic confusion: the issuer's public PEM used as an HMAC secret."""
    pem = (
        signing_keys["rsa1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    head = b64(json.dumps({"alg": "HS256", "kid": "rsa1", "typ": "JWT"}).encode())
    body = b64(json.dumps(issuer.claims()).encode())
    mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    refused(
        evaluate(client, f"{head}.{body}.{b64(mac)}"),
        "The token's alg 'HS256' is refused: RS256, PS256, ES256 only.",
    )


def test_a_forged_signature_is_refused(client: FlaskClient, issuer: Issuer) -> None:
    """Signed by a key the issuer never published, under a published kid."""
    token = jwt.encode(issuer.claims(), issuer.keys["ghost"], "RS256", headers={"kid": "rsa1"})
    refused(evaluate(client, token), "The token's signature does not verify.")


def test_an_ec_key_cannot_sign_rs256_under_its_kid(client: FlaskClient, issuer: Issuer) -> None:
    token = unsigned({"alg": "RS256", "kid": "ec1"}, issuer.claims(), b"x" * 256)
    refused(evaluate(client, token), "The issuer's key 'ec1' is not for RS256.")


def test_rotation_refetches_once_then_cools_down(
    client: FlaskClient, app: Flask, issuer: Issuer
) -> None:
    assert evaluate(client, issuer.token("rsa1")).status_code == 200
    assert issuer.fetches == 1
    issuer.published.append("rsa2")  # the issuer rotates in a new key
    assert evaluate(client, issuer.token("rsa2")).status_code == 200
    assert issuer.fetches == 2
    ghost = issuer.token("ghost")  # a kid the issuer never publishes
    refused(evaluate(client, ghost), "The issuer publishes no key 'ghost' (the token's kid).")
    assert issuer.fetches == 2  # within 30 s of the last refetch: no fetch
    keys = app.extensions["dealdesk"].tokens.keys
    started = time.monotonic()
    keys.clock = lambda: started + 31
    refused(evaluate(client, ghost), "The issuer publishes no key 'ghost' (the token's kid).")
    assert issuer.fetches == 3
    refused(evaluate(client, ghost), "The issuer publishes no key 'ghost' (the token's kid).")
    assert issuer.fetches == 3


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": -61}, "The token has expired."),
        ({"aud": "api://someone-else"}, "The token's aud does not name 'api://dealdesk'."),
        ({"iss": "http://127.0.0.1:1/other"}, "The token's iss is not '{url}'."),
        ({"exp": None}, "The token has no 'exp' claim."),
        ({"aud": None}, "The token has no 'aud' claim."),
        ({"nbf": 120}, "The token is not valid yet (its nbf or iat is in the future)."),
        ({"iat": 120}, "The token is not valid yet (its nbf or iat is in the future)."),
        (
            {"exp": "soon"},
            "The token is not valid: Expiration Time claim (exp) must be an integer.",
        ),
        (
            {"client_id": None, "sub": None},
            "The token names no client: it has no client_id, azp or sub.",
        ),
    ],
    ids=[
        *("exp-past-leeway", "wrong-aud", "wrong-iss", "no-exp", "no-aud", "nbf", "iat"),
        *("exp-type", "client"),
    ],
)
def test_claims_are_checked(
    client: FlaskClient, issuer: Issuer, claims: dict[str, Any], detail: str
) -> None:
    now = int(time.time())
    timed = {
        k: now + v if k in ("exp", "nbf", "iat") and isinstance(v, int) else v
        for k, v in claims.items()
    }
    refused(evaluate(client, issuer.token(**timed)), detail.format(url=issuer.url))


def test_the_leeway_is_sixty_seconds(client: FlaskClient, issuer: Issuer) -> None:
    now = int(time.time())
    assert evaluate(client, issuer.token(exp=now - 50)).status_code == 200
    assert evaluate(client, issuer.token(nbf=now + 50)).status_code == 200
    many = issuer.token(aud=["api://other", AUDIENCE])
    assert evaluate(client, many).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": "openid dealdesk:requests profile"},
        {"scope": None, "scp": ["dealdesk:requests", "other"]},
        {"scope": None, "scp": "dealdesk:requests offline_access"},
        {"scope": None, "roles": ["dealdesk:requests", "Reader"]},
        {"scope": "dealdesk:admin"},
    ],
    ids=["scope-string", "scp-list", "scp-string", "entra-roles", "admin"],
)
def test_scopes_from_scope_scp_or_roles(
    client: FlaskClient, issuer: Issuer, claims: dict[str, Any]
) -> None:
    token = issuer.token(**claims)
    listed = client.get("/v1/approval-requests", headers=bearer(token))
    assert listed.status_code == 200, listed.json
    assert listed.json == {"items": [], "next_cursor": None}
    people = client.get("/v1/people?limit=1", headers=bearer(token))
    assert people.status_code == (200 if claims.get("scope") == "dealdesk:admin" else 403)


def test_a_missing_scope_is_403_insufficient_scope(client: FlaskClient, issuer: Issuer) -> None:
    token = issuer.token(scope="dealdesk:evaluate people")  # `people` lacks the prefix
    response = client.get("/v1/people", headers=bearer(token))
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert response.json["detail"] == (
        "This access token lacks the `people` scope (grant `dealdesk:people`)."
    )
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="dealdesk:people"'
    )


def test_the_audit_actor_is_the_client(
    client: FlaskClient, issuer: Issuer, admin: dict[str, str]
) -> None:
    cases = [
        {"client_id": "cpq", "azp": "x", "sub": "y"},
        {"client_id": None, "azp": "sf-org", "sub": "y"},
        {"client_id": None, "sub": "svc-7"},
    ]
    for n, claims in enumerate(cases):
        token = issuer.token(scope="dealdesk:people", **claims)
        body = {"name": "Pat", "tier": "account_manager", "manager_id": "sm.lee"}
        response = client.put(f"/v1/people/am.new{n}", json=body, headers=bearer(token))
        assert response.status_code == 201, response.json
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    actors = [e["actor"] for e in events if e["subject"].startswith("am.new")]
    assert actors == ["jwt:cpq", "jwt:sf-org", "jwt:svc-7"]


def test_a_token_with_the_scim_scope_provisions_as_its_client(
    client: FlaskClient, issuer: Issuer, admin: dict[str, str]
) -> None:
    token = issuer.token(roles=["dealdesk:scim"], client_id=None, azp="entra-app")
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "Pat.Scim@example.com",
        "displayName": "Pat Scim",
        "active": True,
    }
    headers = {**bearer(token), "Content-Type": "application/scim+json"}
    response = client.post("/scim/v2/Users", json=user, headers=headers)
    assert (response.status_code, response.json["id"]) == (201, "pat.scim@example.com")
    unscoped = client.post("/scim/v2/Users", json=user, headers=bearer(issuer.token()))
    assert (unscoped.status_code, unscoped.json["status"]) == (403, "403")
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    actors = [e["actor"] for e in events if e["subject"] == "pat.scim@example.com"]
    assert actors == ["scim:entra-app"]


def test_a_token_submits_and_approves(
    client: FlaskClient, issuer: Issuer, admin: dict[str, str]
) -> None:
    token = issuer.token(scope="dealdesk:requests dealdesk:approvals", client_id="sf-cpq")
    body = {"deal": deal(discount_pct="18"), "requested_by": "am.jones"}
    headers = {**bearer(token), "Idempotency-Key": "sub-1"}
    first = client.post("/v1/approval-requests", json=body, headers=headers)
    assert first.status_code == 201, first.json
    assert [s["approver_id"] for s in first.json["steps"]] == ["sd.patel"]
    again = client.post("/v1/approval-requests", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    rid = first.json["id"]
    approved = client.post(
        f"/v1/approval-requests/{rid}/approve",
        json={"approver_id": "sd.patel", "comment": "fine"},
        headers={**bearer(token), "If-Match": '"1"'},
    )
    assert approved.status_code == 200, approved.json
    assert approved.json["state"] == "approved"
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    mine = [e for e in events if e["subject"] == f"request:{rid}"]
    assert [(e["actor"], e["payload"]["via_key"]) for e in mine] == [
        ("am.jones", "jwt:sf-cpq"),
        ("sd.patel", "jwt:sf-cpq"),
    ]


def test_a_token_is_verified_once(client: FlaskClient, app: Flask, issuer: Issuer) -> None:
    token = issuer.token()
    verifier = app.extensions["dealdesk"].tokens
    assert evaluate(client, token).status_code == 200
    issuer.published.clear()  # even with the key gone, the verified token stays good
    verifier.keys.clock = lambda: time.monotonic() + 10_000
    assert evaluate(client, token).status_code == 200
    assert len(verifier.cache) == 1
    assert issuer.fetches == 1


@pytest.mark.parametrize("lane", [True, False], ids=["fast-lane", "flask"])
def test_evaluations_by_token_on_both_paths(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, issuer: Issuer, lane: bool
) -> None:
    configured = dataclasses.replace(
        settings, jwt_issuer=issuer.url, jwt_audience=AUDIENCE, fast_lane=lane
    )
    application = create_app(configured, pool=pool, policy_set=shipped)
    passed: list[str] = []
    if lane:
        assert isinstance(application.wsgi_app, FastLane)
        inner = application.wsgi_app.inner
        application.wsgi_app.inner = lambda e, s: passed.append(e["PATH_INFO"]) or inner(e, s)
    client = application.test_client()
    good = evaluate(client, issuer.token())
    assert good.status_code == 200
    assert good.json["requester"] == {"id": "am.jones", "tier": "account_manager"}
    assert passed == []  # the lane served it
    lacking = evaluate(client, issuer.token(scope="dealdesk:people"))
    assert lacking.status_code == 403
    assert lacking.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
    verifier = application.extensions["dealdesk"].tokens
    calls: list[str] = []
    verify = verifier.verify
    verifier.verify = lambda token: calls.append(token) or verify(token)
    expired = evaluate(client, issuer.token(exp=int(time.time()) - 100))
    refused(expired, "The token has expired.")
    assert len(calls) == 1  # the lane's refusal reaches Flask: it is not verified twice
    assert passed == (["/v1/evaluations"] * 2 if lane else [])


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


NESTED_HEADER = b64(('{"alg": ' + nested(3000) + "}").encode())
KID_SEVEN = b64(json.dumps({"alg": "RS256", "kid": 7}).encode())


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("a.b.c", "The token is not a well-formed JWT."),
        ("..", "The token is not a well-formed JWT."),
        ("x" * 20_000 + ".a.b", "The token is longer than 16384 characters."),
        (f"{NESTED_HEADER}.e30.", "The token is not a well-formed JWT."),
        (f"{b64(b'[1]')}.e30.", "The token is not a well-formed JWT."),
        (f"{KID_SEVEN}.e30.", "The token is not a well-formed JWT."),
    ],
    ids=["garbage", "empty-parts", "huge", "nested-header", "array-header", "kid-type"],
)
def test_malformed_tokens_are_401_never_500(client: FlaskClient, token: str, detail: str) -> None:
    refused(evaluate(client, token), detail)


def test_deeply_nested_claims_are_401(
    client: FlaskClient, issuer: Issuer, signing_keys: dict[str, Any]
) -> None:
    """Validly signed, so only the claims' own parsing can refuse it."""
    payload = ('{"a": ' + nested(5000) + "}").encode()
    token = jwt.api_jws.encode(payload, signing_keys["rsa1"], "RS256", headers={"kid": "rsa1"})
    refused(evaluate(client, token), "The token's claims are not readable JSON.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_issuer_that_is_down_is_503_and_a_log_line(
    settings: Settings,
    pool: ConnectionPool,
    shipped: PolicySet,
    issuer: Issuer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    configured = dataclasses.replace(settings, jwt_issuer=down, jwt_audience=AUDIENCE)
    client = create_app(configured, pool=pool, policy_set=shipped).test_client()
    with caplog.at_level(logging.INFO, logger="dealdesk.tokens"):
        response = evaluate(client, issuer.token(iss=down))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["detail"] == (
        "The access token's issuer cannot be reached for its keys; try again."
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "dealdesk.tokens"]
    assert (
        f"access tokens: no discovery document at {down}/.well-known/openid-configuration"
        in (lines[0])
    )
    assert lines[-1] == (
        "access tokens: cannot fetch the issuer's JWKS: "
        "Unavailable: The access token issuer's discovery document gives no jwks_uri."
    )
    assert all("Traceback" not in line for line in lines)


def test_without_an_issuer_tokens_are_refused(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, issuer: Issuer
) -> None:
    client = create_app(settings, pool=pool, policy_set=shipped).test_client()
    refused(
        evaluate(client, issuer.token()),
        "This server takes API keys only: no token issuer is configured.",
    )


def test_an_issuer_answering_garbage_is_503_then_held_keys_carry_on(
    client: FlaskClient, app: Flask, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.garbage = True
    with caplog.at_level(logging.WARNING, logger="dealdesk.tokens"):
        response = evaluate(client, issuer.token())
    assert response.status_code == 503
    assert response.json["detail"] == (
        "The access token's issuer cannot be reached for its keys; try again."
    )
    (line,) = [r.getMessage() for r in caplog.records if r.name == "dealdesk.tokens"]
    assert line.startswith("access tokens: cannot fetch the issuer's JWKS: JSONDecodeError")
    keys = app.extensions["dealdesk"].tokens.keys
    keys.clock = lambda: time.monotonic() + 31  # past the cooldown: the next call fetches
    issuer.garbage = False
    assert evaluate(client, issuer.token()).status_code == 200
    issuer.garbage = True  # down again: the keys held still verify known kids
    keys.clock = lambda: time.monotonic() + 400  # and past their five minutes
    assert evaluate(client, issuer.token(kid="ec1", alg="ES256")).status_code == 200
    refused(
        evaluate(client, issuer.token("rsa2")),
        "The issuer publishes no key 'rsa2' (the token's kid).",
    )
