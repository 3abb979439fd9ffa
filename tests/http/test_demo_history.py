"""The `make run` demo history: every report shows the pattern it was seeded with."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.policy.loader import PolicySet
from api.service.demo import seed_demo
from api.service.demo_history import seed_history
from api.storage.database import transaction
from tests.http.reporting import items


def test_every_report_shows_its_pattern(
    client: FlaskClient, admin: dict[str, str], pool: ConnectionPool, shipped: PolicySet
) -> None:
    with transaction(pool) as conn:
        assert seed_demo(conn, shipped.active)
        deals = seed_history(conn, shipped.active, date(2026, 12, 1))
    assert deals > 300
    hugging = {i["key"]: i for i in items(client, admin, "threshold-proximity?group_by=owner")}
    assert [k for k, i in hugging.items() if i["flagged"]] == ["demo.am.hugger"]

    rescues = {i["key"]: i for i in items(client, admin, "rescues")}
    top = max(rescues.values(), key=lambda i: i["rescues"])
    assert top["key"] == "demo.vp_sales"
    coaching = Decimal(rescues["demo.sales_manager"]["coaching_share"])
    assert coaching > Decimal("0.2") > Decimal(top["coaching_share"])

    dash = items(client, admin, "period-end?lever=discount_pct")
    last_week = [i for i in dash if i["bucket"] == "0-6"]
    early = [i for i in dash if i["bucket"] == "56+"]
    assert len(last_week) >= 3
    assert min(Decimal(i["mean"]) for i in last_week) > max(Decimal(i["mean"]) for i in early)
    assert all(i["overrides"] > 0 and Decimal(i["excess_value"]) > 0 for i in last_week)

    timeline = {i["key"]: i for i in items(client, admin, "seller-timeline")}
    slipper = timeline.pop("demo.am.slipper")
    assert slipper["flagged"] == slipper["requests"] > 50
    assert slipper["slips"] > 20
    assert all(i["flagged"] == i["slips"] == 0 for i in timeline.values())

    assert items(client, admin, "customer-no") == [
        {
            "key": "demo.account_manager",
            "withdrawals": {
                "customer_declined": 1,
                "customer_delayed": 0,
                "lost_to_competitor": 0,
                "duplicate": 0,
                "other": 0,
            },
            "after_no": 1,
            "deeper_after_no": 1,
        }
    ]


def test_a_policy_without_the_story_levers_seeds_no_history(
    pool: ConnectionPool, shipped: PolicySet, db: str
) -> None:
    import dataclasses

    bare = dataclasses.replace(shipped.active, levers=shipped.active.levers[:1])
    with transaction(pool) as conn:
        seed_demo(conn, bare)
        assert seed_history(conn, bare, date(2026, 12, 1)) == 0
        assert conn.execute("SELECT count(*) FROM asks").fetchone() == (0,)
