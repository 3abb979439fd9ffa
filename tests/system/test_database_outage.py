"""A real PostgreSQL stopped and started under a running app: 503 with Retry-After while it
is down (never a 500, never a hang), and the same process serves again when it is back."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from api.config import Settings
from api.policy.loader import PolicySet
from api.service.keys import issue_key
from api.storage.database import init_database, open_pool, transaction
from tests.conftest import POLICIES
from tests.http.conftest import deal

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pgserver


@pytest.fixture()
def private_server(tmp_path: Path) -> Iterator[Any]:
    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="delete")
    yield server
    server.cleanup()


def stop(server: Any) -> None:
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def start(server: Any) -> None:
    with server._lock:
        server.ensure_postgres_running()


def wait_for(
    client: FlaskClient, path: str, headers: dict[str, str], status: int, limit_s: float
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if client.get(path, headers=headers).status_code == status:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{path} did not answer {status} within {limit_s} s")


def test_outage_and_recovery(private_server: Any, shipped: PolicySet) -> None:
    url = private_server.get_uri()
    init_database(url)
    pool = open_pool(url, max_size=4, timeout_s=2.0, connect_timeout_s=2)
    try:
        with transaction(pool) as conn:
            key, _ = issue_key(conn, "admin", ["admin"], "test")
        client = create_app(
            Settings(database_url=url, policy_dir=POLICIES), pool=pool, policy_set=shipped
        ).test_client()
        admin = {"Authorization": f"Bearer {key}"}
        assert (
            client.put(
                "/v1/people/am.jones", json={"name": "J", "tier": "account_manager"}, headers=admin
            ).status_code
            == 201
        )

        stop(private_server)
        calls = [
            ("GET", "/readyz", None),
            ("GET", "/v1/people", None),
            ("POST", "/v1/evaluations", {"deal": deal(), "requested_by": "am.jones"}),
        ]
        for method, path, body in calls:
            started = time.monotonic()
            response = client.open(path, method=method, json=body, headers=admin)
            assert time.monotonic() - started < 10
            assert (response.status_code, response.mimetype) == (503, "application/problem+json"), (
                path
            )
            assert response.headers["Retry-After"] == "5"
        assert client.get("/healthz").status_code == 200

        start(private_server)
        wait_for(client, "/readyz", {}, 200, 20)
        assert client.get("/v1/people", headers=admin).json["items"][0]["id"] == "am.jones"
        assert (
            client.put(
                "/v1/people/sm.lee", json={"name": "L", "tier": "sales_manager"}, headers=admin
            ).status_code
            == 201
        )
        assert client.get("/v1/audit/verify", headers=admin).json["ok"] is True
    finally:
        pool.close()
