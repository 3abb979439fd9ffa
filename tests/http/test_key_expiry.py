"""API keys that expire (DESIGN 13): `--expires`, a 401 that says so on every path, and
`last_used_at` written at most once a minute per key, off the request path and outside the
registry generation."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.errors import Invalid
from api.policy.loader import PolicySet
from api.service.keys import expiry, issue_key
from api.storage.database import transaction
from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)


def test_expiry_takes_days_or_a_date() -> None:
    assert expiry("90d", NOW) == NOW + timedelta(days=90)
    assert expiry(" 1d ", NOW) == NOW + timedelta(days=1)
    assert expiry("2027-03-31", NOW) == datetime(2027, 3, 31, tzinfo=UTC)
    for bad, message in [
        ("0d", "Must lie in the future."),
        ("2026-12-05", "Must lie in the future."),
        ("90", "Give days such as 90d, or a date YYYY-MM-DD; not '90'."),
        ("3 months", "Give days such as 90d, or a date YYYY-MM-DD; not '3 months'."),
    ]:
        with pytest.raises(Invalid) as caught:
            expiry(bad, NOW)
        assert caught.value.errors == {"expires": [message]}


def key_expiring(pool: ConnectionPool, name: str, at: datetime, *scopes: str) -> str:
    with transaction(pool) as conn:
        key, row = issue_key(conn, name, list(scopes or ["evaluate"]), "test", expires_at=at)
    assert row.expires_at == at
    return key


def evaluate(client: FlaskClient, key: str) -> Any:
    return client.post(
        "/v1/evaluations",
        json={"deal": deal(discount_pct="5"), "requested_by": "am.jones"},
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.mark.parametrize("lane", [True, False], ids=["fast-lane", "flask"])
def test_an_expired_key_is_401_saying_so(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, lane: bool
) -> None:
    app = create_app(dataclasses.replace(settings, fast_lane=lane), pool=pool, policy_set=shipped)
    client = app.test_client()
    past = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    key = key_expiring(pool, "old", past, "evaluate", "people")
    for response in (evaluate(client, key), client.get("/v1/people", headers=auth(key))):
        assert response.status_code == 401
        assert response.json == {
            "type": "urn:dealdesk:problem:unauthorized",
            "title": "Unauthorized",
            "status": 401,
            "detail": "The API key expired at 2026-01-02T03:04:05Z; ask for a new one.",
        }
    fresh = key_expiring(pool, "fresh", datetime.now(UTC) + timedelta(days=1))
    assert evaluate(client, fresh).status_code == 200


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_cached_by_the_snapshot_expires_too(
    client: FlaskClient, pool: ConnectionPool, db: str
) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=2)
    key = key_expiring(pool, "brief", soon)
    assert evaluate(client, key).status_code == 200
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
    response = evaluate(client, key)
    assert response.status_code == 401
    assert "expired" in response.json["detail"]


def generation(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT n FROM registry_generation").fetchone()
    assert row is not None
    return int(row[0])


def last_used(db: str, name: str) -> datetime | None:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT last_used_at FROM api_keys WHERE name = %s", (name,)).fetchone()
    assert row is not None
    value: datetime | None = row[0]
    return value


def test_last_used_is_written_once_a_minute_off_the_path(
    app: Flask, client: FlaskClient, make_key: Callable[..., str], db: str
) -> None:
    usage = app.extensions["dealdesk"].usage
    key = make_key("evaluate", name="cpq")
    before = generation(db)
    started = datetime.now(UTC)
    assert evaluate(client, key).status_code == 200
    deadline = time.monotonic() + 10
    while last_used(db, "cpq") is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the background writer's, not the request's
    first = last_used(db, "cpq")
    assert first is not None and started - timedelta(seconds=1) <= first <= datetime.now(UTC)
    assert generation(db) == before  # the write moved no registry generation
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE api_keys SET last_used_at = NULL WHERE name = 'cpq'")
    for _ in range(5):
        assert evaluate(client, key).status_code == 200
    assert usage.flush() == 0  # within the minute: nothing pending
    assert last_used(db, "cpq") is None
    key_id = app.extensions["dealdesk"].registry.key(_hash(key)).key.id
    usage.note(key_id, time.time() + 61)
    assert usage.flush() == 1
    assert last_used(db, "cpq") is not None


def _hash(key: str) -> str:
    from api.storage.keys import hash_key

    return hash_key(key)


def test_cli_expires_and_lists(
    client: FlaskClient,
    db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli import main

    monkeypatch.setenv("DATABASE_URL", db)
    assert (
        main(["keys", "create", "--name", "q", "--scopes", "evaluate", "--expires", "2099-01-31"])
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "created key 'q' with scopes evaluate, expiring 2099-01-31T00:00Z; it is shown only once:"
    )
    assert evaluate(client, out[-1]).status_code == 200
    assert main(["keys", "create", "--name", "r", "--scopes", "evaluate", "--expires", "soon"]) == 1
    assert capsys.readouterr().err == (
        "dealdesk: The expiry is not valid.\n"
        "  expires: Give days such as 90d, or a date YYYY-MM-DD; not 'soon'.\n"
    )
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE api_keys SET last_used_at = '2026-12-01T09:15:42Z' WHERE name = 'q'")
    assert main(["keys", "list"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == [
        "name",
        "scopes",
        "person",
        "created",
        "state",
        "expires_at",
        "last_used_at",
    ]
    (row,) = [line for line in lines if line[0] == "q"]
    assert row[4:] == ["active", "2099-01-31T00:00Z", "2026-12-01T09:15Z"]
