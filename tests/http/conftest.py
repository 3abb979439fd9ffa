"""HTTP fixtures: the real app on the real database, keys per scope, and a seeded org."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.policy.loader import PolicySet
from api.service.keys import SCOPES, issue_key
from api.storage.database import transaction

ORG = [
    # id, tier, manager
    ("ceo.morgan", "ceo", None),
    ("cfo.chen", "cfo", "ceo.morgan"),
    ("vp.garcia", "vp_sales", "ceo.morgan"),
    ("vp.west", "vp_sales", "ceo.morgan"),
    ("sd.patel", "sales_director", "vp.garcia"),
    ("sm.lee", "sales_manager", "sd.patel"),
    ("am.jones", "account_manager", "sm.lee"),
    ("am.kim", "account_manager", "sm.lee"),
]


@pytest.fixture()
def app(settings: Settings, pool: ConnectionPool, shipped: PolicySet) -> Flask:
    application = create_app(settings, pool=pool, policy_set=shipped)
    application.config["TESTING"] = True
    return application


@pytest.fixture()
def make_key(pool: ConnectionPool) -> Callable[..., str]:
    def make(*scopes: str, name: str | None = None) -> str:
        with transaction(pool) as conn:
            key, _ = issue_key(conn, name or f"test-{'-'.join(scopes)}", list(scopes), "test")
        return key

    return make


@pytest.fixture()
def admin(make_key: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key('admin', name='admin')}"}


@pytest.fixture()
def org(client: FlaskClient, admin: dict[str, str]) -> list[tuple[str, str, str | None]]:
    for person_id, tier, manager in ORG:
        body = {"name": person_id.split(".")[1].title(), "tier": tier, "manager_id": manager}
        response = client.put(f"/v1/people/{person_id}", json=body, headers=admin)
        assert response.status_code == 201, response.json
    return ORG


def deal(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "deal_id": "Q-1",
        "owner_id": "am.jones",
        "currency": "USD",
        "list_amount": "250000.00",
    }
    base.update(fields)
    return base


ALL_SCOPES = SCOPES


@pytest.fixture()
def scim(client: FlaskClient, make_key: Callable[..., str]) -> Any:
    """A SCIM client (tests/http/scim_client.py) with a key named `okta` holding `scim`."""
    from tests.http.scim_client import Scim

    return Scim(client, make_key("scim", name="okta"))
