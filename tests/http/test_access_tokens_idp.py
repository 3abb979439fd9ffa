"""A client-credentials token from a real OAuth 2.0 server (npm oauth2-mock-server, installed
by the session into .dealdesk/npm and started here on loopback) works on /v1 like a key:
discovery, JWKS, scopes from `scope`, the audit actor named by the client."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.policy.loader import PolicySet
from tests.http.conftest import deal

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "oauth2-mock-server@9.3.0"
NPM_DIR = ROOT / ".dealdesk" / "npm" / "oauth2-mock-server-9.3.0"
SCRIPT = Path(__file__).with_name("oauth_mock") / "serve.mjs"
AUDIENCE = "api://dealdesk"

pytestmark = pytest.mark.usefixtures("org")


@pytest.fixture(scope="session")
def oauth_modules() -> Path:
    """oauth2-mock-server in a test-owned node_modules, installed once and kept."""
    modules = NPM_DIR / "node_modules"
    if not (modules / "oauth2-mock-server" / "package.json").exists():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        assert npm, "npm is needed for the real OAuth 2.0 server"
        subprocess.run(  # noqa: S603
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(NPM_DIR), PACKAGE],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return modules


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def oauth_server(oauth_modules: Path) -> Iterator[str]:
    node = shutil.which("node")
    assert node, "node is needed for the real OAuth 2.0 server"
    process = subprocess.Popen(  # noqa: S603
        [node, str(SCRIPT), str(oauth_modules), str(free_port()), AUDIENCE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    issuer: str = json.loads(process.stdout.readline())["issuer"]
    try:
        yield issuer  # announced as http://localhost:<port>, whatever host it listens on
    finally:
        process.stdin.close()
        process.wait(timeout=10)
        process.stdout.close()


def client_credentials(issuer: str, client: str, scope: str) -> dict[str, object]:
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode()
    request = urllib.request.Request(f"{issuer}/token", data=form, method="POST")  # noqa: S310
    basic = base64.b64encode(f"{client}:secret".encode()).decode()
    request.add_header("Authorization", f"Basic {basic}")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer: dict[str, object] = json.loads(response.read())
    return answer


@pytest.fixture()
def client(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, oauth_server: str
) -> FlaskClient:
    configured = dataclasses.replace(settings, jwt_issuer=oauth_server, jwt_audience=AUDIENCE)
    return create_app(configured, pool=pool, policy_set=shipped).test_client()


def test_a_client_credentials_token_evaluates_and_submits(
    client: FlaskClient, oauth_server: str, admin: dict[str, str]
) -> None:
    answer = client_credentials(
        oauth_server, "salesforce-cpq", "dealdesk:evaluate dealdesk:requests"
    )
    assert answer["token_type"] == "Bearer"
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    body = {"deal": deal(discount_pct="18"), "requested_by": "am.jones"}
    evaluated = client.post("/v1/evaluations", json=body, headers=headers)
    assert evaluated.status_code == 200, evaluated.json
    assert evaluated.json["required_tiers"] == ["sales_director"]
    submitted = client.post("/v1/approval-requests", json=body, headers=headers)
    assert submitted.status_code == 201, submitted.json
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    (created,) = [e for e in events if e["subject"] == f"request:{submitted.json['id']}"]
    assert created["payload"]["via_key"] == "jwt:salesforce-cpq"
    denied = client.get("/v1/people", headers=headers)
    assert denied.status_code == 403
    assert denied.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="dealdesk:people"'
    )


def test_a_token_for_another_audience_is_refused(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, oauth_server: str
) -> None:
    configured = dataclasses.replace(settings, jwt_issuer=oauth_server, jwt_audience="api://other")
    other = create_app(configured, pool=pool, policy_set=shipped).test_client()
    token = client_credentials(oauth_server, "cpq", "dealdesk:evaluate")["access_token"]
    response = other.post(
        "/v1/evaluations",
        json={"deal": deal(), "requested_by": "am.jones"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert response.json["detail"] == "The token's aud does not name 'api://other'."
