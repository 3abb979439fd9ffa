"""Bearer keys and scopes: 401 without a valid key, 403 without the scope, admin implies all."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.service.keys import withdraw_key
from api.storage.database import transaction

ENDPOINTS = [
    ("POST", "/v1/evaluations", "evaluate"),
    ("GET", "/v1/people", "people"),
    ("GET", "/v1/people/x", "people"),
    ("PUT", "/v1/people/x", "people"),
    ("GET", "/v1/audit/events", "audit:read"),
    ("GET", "/v1/audit/verify", "audit:read"),
    ("GET", "/v1/policies", "policies"),
    ("POST", "/v1/policies/reload", "admin"),
]


@pytest.mark.parametrize(
    ("method", "path", "scope"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS]
)
def test_scope_matrix(
    client: FlaskClient, make_key: Callable[..., str], method: str, path: str, scope: str
) -> None:
    for other in ("evaluate", "people", "audit:read", "policies", "requests"):
        if other == scope:
            continue
        key = make_key(other, name=f"k-{other}")
        response = client.open(
            path, method=method, headers={"Authorization": f"Bearer {key}"}, json={}
        )
        assert response.status_code == 403, other
        assert response.json["detail"] == f"This API key lacks the `{scope}` scope."
    right = make_key(scope, name="right")
    response = client.open(
        path, method=method, headers={"Authorization": f"Bearer {right}"}, json={}
    )
    assert response.status_code not in (401, 403)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic abc", "Bearer ddk_not-a-real-key"],
    ids=["none", "empty-bearer", "basic", "unknown-key"],
)
def test_missing_or_bad_key_is_401(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/v1/people", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.mimetype == "application/problem+json"


def test_revoked_key_is_401(
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


def test_open_endpoints_need_no_key(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}
    assert client.get("/openapi.yaml").data.startswith(b"security:")
    assert client.get("/docs").status_code == 200


def test_key_hash_only_is_stored(make_key: Callable[..., str], db: str) -> None:
    import psycopg

    key = make_key("evaluate", name="hashed")
    with psycopg.connect(db) as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys WHERE name = 'hashed'").fetchone()
        dump = conn.execute("SELECT string_agg(t::text, '') FROM api_keys t").fetchone()
    assert stored is not None and dump is not None
    assert key not in dump[0] and len(stored[0]) == 64
