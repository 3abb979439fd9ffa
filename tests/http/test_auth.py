"""Bearer keys and scopes: every endpoint against every scope, no key, a malformed header and a
revoked key. 401 without a valid key, 403 without the scope; admin implies every scope."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.service.keys import SCOPES, withdraw_key
from api.storage.database import transaction

RID = "00000000-0000-0000-0000-000000000001"
ENDPOINTS = [
    ("POST", "/v1/evaluations", "evaluate"),
    ("GET", "/v1/people", "people"),
    ("GET", "/v1/people/x", "people"),
    ("PUT", "/v1/people/x", "people"),
    ("POST", "/v1/approval-requests", "requests"),
    ("GET", "/v1/approval-requests", "requests"),
    ("GET", f"/v1/approval-requests/{RID}", "requests"),
    ("POST", f"/v1/approval-requests/{RID}/approve", "approvals"),
    ("POST", f"/v1/approval-requests/{RID}/reject", "approvals"),
    ("POST", f"/v1/approval-requests/{RID}/return", "approvals"),
    ("POST", f"/v1/approval-requests/{RID}/revise", "requests"),
    ("POST", f"/v1/approval-requests/{RID}/withdraw", "requests"),
    ("POST", "/v1/overrides", "overrides"),
    ("GET", "/v1/overrides", "audit:read"),
    ("GET", "/v1/overrides/summary?group_by=owner", "audit:read"),
    ("GET", f"/v1/overrides/{RID}", "audit:read"),
    ("POST", f"/v1/overrides/{RID}/acknowledge", "requests"),
    ("POST", f"/v1/overrides/{RID}/reviews", "audit:review"),
    ("GET", "/v1/audit/events", "audit:read"),
    ("GET", "/v1/audit/verify", "audit:read"),
    ("GET", "/v1/policies", "policies"),
    ("POST", "/v1/policies/reload", "admin"),
    ("POST", "/v1/policies/simulate", "policies"),
]


@pytest.mark.parametrize(
    ("method", "path", "scope"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS]
)
def test_scope_matrix(
    client: FlaskClient,
    make_key: Callable[..., str],
    pool: ConnectionPool,
    method: str,
    path: str,
    scope: str,
) -> None:
    revoked = make_key(scope, name="revoked")
    with transaction(pool) as conn:
        withdraw_key(conn, "revoked", "test")
    for header in (None, "Bearer", "Token abc", "Bearer  ", f"Bearer {revoked}"):
        headers = {"Authorization": header} if header else {}
        response = client.open(path, method=method, headers=headers, json={})
        assert response.status_code == 401, header
        assert response.mimetype == "application/problem+json"
    for other in SCOPES:
        key = make_key(other, name=f"k-{other}")
        response = client.open(
            path, method=method, headers={"Authorization": f"Bearer {key}"}, json={}
        )
        if other in (scope, "admin"):
            assert response.status_code not in (401, 403), (other, response.json)
        else:
            assert response.status_code == 403, other
            assert response.json["detail"] == f"This API key lacks the `{scope}` scope."


def test_revoked_key_stops_working_at_once(
    client: FlaskClient, make_key: Callable[..., str], pool: ConnectionPool
) -> None:
    key = make_key("people", name="soon-gone")
    assert client.get("/v1/people", headers={"Authorization": f"Bearer {key}"}).json["items"] == []
    with transaction(pool) as conn:
        withdraw_key(conn, "soon-gone", "test")
    response = client.get("/v1/people", headers={"Authorization": f"Bearer {key}"})
    assert (response.status_code, response.json["detail"]) == (
        401,
        "The API key is not valid or has been revoked.",
    )
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_open_endpoints_need_no_key(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready", "generation": 0}  # none published
    assert client.get("/openapi.yaml").data.startswith(b"security:")
    assert b"swagger-ui" in client.get("/docs").data


def test_key_hash_only_is_stored(make_key: Callable[..., str], db: str) -> None:
    key = make_key("evaluate", name="hashed")
    with psycopg.connect(db) as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys WHERE name = 'hashed'").fetchone()
        dump = conn.execute("SELECT string_agg(t::text, '') FROM api_keys t").fetchone()
    assert stored is not None and dump is not None
    assert key not in dump[0] and len(stored[0]) == 64
