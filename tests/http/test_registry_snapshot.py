"""The evaluation path's registry snapshot: keys and people kept in memory, yet a revoked key
or a changed tier is never acted on, because the write that relied on them is guarded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.service.keys import withdraw_key
from api.storage.database import transaction
from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")

BODY = {"deal": deal(discount_pct="18"), "requested_by": "am.jones"}


def evaluate(client: FlaskClient, key: str, body: Any = BODY) -> Any:
    return client.post("/v1/evaluations", json=body, headers={"Authorization": f"Bearer {key}"})


def logged(db: str) -> list[tuple[str, str]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT requester_id, output->>'outcome' FROM decisions ORDER BY created_at"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_second_evaluation_needs_no_registry_read(
    client: FlaskClient, make_key: Callable[..., str], app: Flask, db: str
) -> None:
    key = make_key("evaluate", name="cpq")
    assert evaluate(client, key).json["required_tiers"] == ["sales_director"]
    registry = app.extensions["dealdesk"].registry
    with psycopg.connect(db) as conn:  # take the tables away: only the snapshot can answer
        conn.execute("ALTER TABLE api_keys RENAME TO api_keys_hidden")
        conn.execute("ALTER TABLE people RENAME TO people_hidden")
        conn.commit()
        try:
            second = evaluate(client, key)
        finally:
            conn.execute("ALTER TABLE api_keys_hidden RENAME TO api_keys")
            conn.execute("ALTER TABLE people_hidden RENAME TO people")
            conn.commit()
    assert second.status_code == 200, second.json
    assert second.json["required_tiers"] == ["sales_director"]
    assert registry.people(["am.jones"]).people is not None
    assert logged(db) == [("am.jones", "needs_approval")] * 2


def test_key_revoked_elsewhere_is_refused_and_nothing_is_logged(
    client: FlaskClient, make_key: Callable[..., str], pool: ConnectionPool, db: str
) -> None:
    key = make_key("evaluate", name="soon-gone")
    assert evaluate(client, key).status_code == 200
    with transaction(pool) as conn:  # another process revokes it: the snapshot still has it
        withdraw_key(conn, "soon-gone", "test")
    response = evaluate(client, key)
    assert (response.status_code, response.json["detail"]) == (
        401,
        "The API key is not valid or has been revoked.",
    )
    assert len(logged(db)) == 1


def test_revoked_key_with_a_bad_body_still_gets_401(
    client: FlaskClient, make_key: Callable[..., str], pool: ConnectionPool
) -> None:
    key = make_key("evaluate", name="soon-gone")
    assert evaluate(client, key).status_code == 200
    with transaction(pool) as conn:
        withdraw_key(conn, "soon-gone", "test")
    response = evaluate(client, key, {"deal": deal(discount_pct="-1"), "requested_by": "am.jones"})
    assert response.status_code == 401
    assert response.json["detail"] == "The API key is not valid or has been revoked."


def test_live_key_with_a_bad_body_gets_the_validation_error(
    client: FlaskClient, make_key: Callable[..., str]
) -> None:
    key = make_key("evaluate", name="cpq")
    assert evaluate(client, key).status_code == 200
    response = evaluate(client, key, {"deal": deal(discount_pct="-1"), "requested_by": "am.jones"})
    assert response.status_code == 422
    assert response.json["errors"] == {"deal.discount_pct": ["Must be at least 0."]}


def test_tier_changed_elsewhere_is_used_at_once(
    client: FlaskClient, make_key: Callable[..., str], db: str
) -> None:
    key = make_key("evaluate", name="cpq")
    assert evaluate(client, key).json["outcome"] == "needs_approval"
    with psycopg.connect(db) as conn:  # promoted behind the app's back, straight in SQL
        conn.execute("UPDATE people SET tier = 'sales_director' WHERE id = 'am.jones'")
    response = evaluate(client, key)
    assert response.json["outcome"] == "approved"
    assert response.json["requester"] == {"id": "am.jones", "tier": "sales_director"}
    assert logged(db) == [("am.jones", "needs_approval"), ("am.jones", "approved")]


def test_person_added_after_a_miss_is_found(
    client: FlaskClient, make_key: Callable[..., str], admin: dict[str, str]
) -> None:
    key = make_key("evaluate", name="cpq")
    body = {"deal": deal(owner_id="am.new", discount_pct="5"), "requested_by": "am.new"}
    assert evaluate(client, key, body).json["errors"] == {
        "deal.owner_id": ["No person 'am.new' in the registry."],
        "requested_by": ["No person 'am.new' in the registry."],
    }
    created = client.put(
        "/v1/people/am.new",
        json={"name": "New", "tier": "account_manager", "manager_id": "sm.lee"},
        headers=admin,
    )
    assert created.status_code == 201
    assert evaluate(client, key, body).json["outcome"] == "approved"
