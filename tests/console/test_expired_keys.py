"""An expired API key signs in to nothing, and a console session ends when its key expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.service.keys import issue_key
from api.storage.database import transaction
from tests.console.conftest import sign_in
from tests.http.conftest import admin, app, make_key, org

pytestmark = pytest.mark.usefixtures("org")


def key_until(pool: ConnectionPool, name: str, at: datetime) -> str:
    with transaction(pool) as conn:
        key, _ = issue_key(conn, name, ["audit:read"], "test", expires_at=at)
    return key


def test_an_expired_key_cannot_sign_in(client: FlaskClient, pool: ConnectionPool) -> None:
    key = key_until(pool, "old", datetime.now(UTC) - timedelta(days=1))
    response = sign_in(client, key)
    assert response.status_code == 401
    assert "That API key has expired." in response.get_data(as_text=True)


def test_the_session_ends_when_its_key_expires(
    client: FlaskClient, pool: ConnectionPool, db: str
) -> None:
    key = key_until(pool, "auditor", datetime.now(UTC) + timedelta(days=1))
    assert sign_in(client, key).status_code == 302
    assert client.get("/console/overrides").status_code == 200
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 second'")
    response = client.get("/console/overrides")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/sign-in?next=/console/overrides"
