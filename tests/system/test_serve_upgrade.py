"""`dealdesk serve` on a database of the previous release: it migrates at start, and its
workers, decision-log writer and dispatcher work on the partitioned log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from api.policy.loader import PolicySet
from api.service.keys import issue_key
from api.storage.partitions import LEGACY, month_name, parts
from tests.storage.planting import (
    add_months,
    in_month,
    months_back,
    plant,
    previous_release,
    scratch_database,
    this_month,
    v7_at,
)
from tests.system.server import Server, call, serving


@pytest.fixture()
def old_database(server_url: str, shipped: PolicySet) -> Iterator[str]:
    with scratch_database(server_url, "serve_upgrade") as url:
        previous_release(url)
        rows = [(uuid.uuid4(), in_month(months_back(3), d), "4") for d in (1, 2, 3)]
        rows.append((v7_at(datetime.now(UTC)), datetime.now(UTC), "8"))
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO people (id, name, tier) VALUES"
                " ('am.jones', 'Jones', 'account_manager'), ('sm.lee', 'Lee', 'sales_manager')"
            )
            conn.execute("UPDATE people SET manager_id = 'sm.lee' WHERE id = 'am.jones'")
            plant(conn, shipped.active, rows)
        yield url


@pytest.fixture()
def server(old_database: str) -> Iterator[Server]:
    yield from serving(old_database, workers=1)


def test_serve_migrates_an_old_database_at_start(old_database: str, server: Server) -> None:
    with psycopg.connect(old_database) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        names = {p.name for p in parts(conn)}
        key, _ = issue_key(conn, "cpq", ["evaluate"], "test")
    assert LEGACY in names
    assert {month_name(add_months(this_month(), n)) for n in (1, 2, 3)} <= names
    body = {
        "deal": {"deal_id": "Q-after", "owner_id": "am.jones", "currency": "USD",
                 "list_amount": "1000.00", "discount_pct": "3"},
        "requested_by": "am.jones",
    }  # fmt: skip
    status, decision = call(server.port, "POST", "/v1/evaluations", body, key)
    assert (status, decision["outcome"]) == (200, "approved")
    with psycopg.connect(old_database) as conn:
        logged = conn.execute(
            "SELECT id::text, tableoid::regclass::text FROM decisions WHERE deal_id = 'Q-after'"
        ).fetchall()
        assert logged == [(decision["decision_id"], LEGACY)]  # this month: the legacy range
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (5,)
