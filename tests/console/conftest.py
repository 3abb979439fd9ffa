"""Console fixtures: the real app and database, a signed-in client, and a few overrides."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.service.keys import issue_key
from api.storage.database import transaction
from tests.http.conftest import ORG, admin, app, deal, make_key, org

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture()
def bound_key(pool: ConnectionPool) -> Callable[..., str]:
    """A key bound to a person (dealdesk keys create --person)."""

    def make(person: str | None, *scopes: str, name: str | None = None) -> str:
        with transaction(pool) as conn:
            key, _ = issue_key(conn, name or f"console-{person}", list(scopes), "test", person)
        return key

    return make


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "every console page carries its CSRF token in a meta tag"
    return found.group(1)


def sign_in(client: FlaskClient, key: str, next_: str | None = None) -> Any:
    page = client.get("/console/sign-in")
    token = csrf_of(page.get_data(as_text=True))
    form = {"api_key": key, "csrf_token": token}
    if next_:
        form["next"] = next_
    return client.post("/console/sign-in", data=form)


OVERRIDE = {
    "executive_id": "vp.garcia",
    "terms": {"discount_pct": "35"},
    "reason_code": "competitive_displacement",
    "justification": "Competitor offered 35% and the CFO asked us to hold the logo.",
}


@pytest.fixture()
def overrides(client: FlaskClient, org: Any, admin: dict[str, str]) -> list[dict[str, Any]]:
    """Three overrides on bare deals by two executives (excess 10000.00 each on 200,000)."""
    made = []
    for i, executive in enumerate(["vp.garcia", "vp.west", "vp.garcia"]):
        body = {
            **OVERRIDE,
            "executive_id": executive,
            "deal": deal(deal_id=f"Q-{i + 1}", list_amount="200000.00"),
        }
        response = client.post("/v1/overrides", json=body, headers=admin)
        assert response.status_code == 201, response.json
        made.append(response.json)
    return made
