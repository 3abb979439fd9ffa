"""DATABASE_READ_URL: override lists, CSV and summary read from it; everything else, the
audit verify included, from the primary. A second real database stands in for a replica
that has not caught up (it holds the schema and nothing else)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.policy.loader import PolicySet
from api.storage.database import init_database
from tests.http.test_overrides import override, submit

pytestmark = pytest.mark.usefixtures("org")


@pytest.fixture()
def lagging(server_url: str) -> Iterator[str]:
    name = f"dealdesk_replica_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    init_database(url)
    yield url
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_finance_reads_go_to_the_read_url_and_the_rest_to_the_primary(
    client: FlaskClient,
    admin: dict[str, str],
    settings: Settings,
    pool: ConnectionPool,
    shipped: PolicySet,
    lagging: str,
) -> None:
    rid = submit(client, admin, discount_pct="18")
    made = override(client, admin, "vp.garcia", {"discount_pct": "35"}, request_id=rid).json
    replica = dataclasses.replace(settings, database_read_url=lagging)
    app = create_app(replica, pool=pool, policy_set=shipped)
    reads = app.extensions["dealdesk"].reads
    try:
        split = app.test_client()
        assert split.get("/v1/overrides", headers=admin).json == {"items": [], "next_cursor": None}
        assert split.get("/v1/overrides/summary?group_by=executive", headers=admin).json == {
            "items": []
        }
        csv_text = split.get("/v1/overrides", headers={**admin, "Accept": "text/csv"}).text
        assert csv_text.count("\n") == 1  # the header only: the replica has no rows yet
        one = split.get(f"/v1/overrides/{made['id']}", headers=admin).json
        assert (one["id"], one["executive"]["id"]) == (made["id"], "vp.garcia")
        verified = split.get("/v1/audit/verify", headers=admin).json
        on_primary = client.get("/v1/audit/verify", headers=admin).json
        assert (verified["ok"], verified["events"]) == (True, on_primary["events"])
        assert verified["events"] > 0
        # the primary-only app reads its lists from the primary
        listed = client.get("/v1/overrides", headers=admin).json["items"]
        assert [o["id"] for o in listed] == [made["id"]]
    finally:
        reads.close()
