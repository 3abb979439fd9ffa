"""The `make run` demo history: every report shows the pattern it was seeded with."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.policy.loader import PolicySet
from api.policy.period import fiscal_period
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
    assert top["key"] == "demo.vp_sales.outside"  # the executive who rescues
    assert rescues["demo.ceo"]["rescues"] > 0  # a second executive, now and then
    assert top["rescues"] > 2 * rescues["demo.ceo"]["rescues"]
    for coach in ("demo.vp_sales", "demo.sales_manager"):  # an executive who coaches, and a manager
        coaching = Decimal(rescues[coach]["coaching_share"])
        assert coaching > Decimal("0.2") > Decimal(top["coaching_share"]), coach
    assert rescues["demo.vp_sales"]["rescues"] == 0

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


def test_every_override_is_dated_in_its_own_fiscal_period_and_this_quarter_has_some(
    client: FlaskClient, admin: dict[str, str], pool: ConnectionPool, shipped: PolicySet
) -> None:
    policy = shipped.active
    with transaction(pool) as conn:
        seed_demo(conn, policy)
        seed_history(conn, policy, date(2026, 12, 5))
        rows = conn.execute(
            "SELECT created_at, created_on, fiscal_year, fiscal_quarter FROM overrides"
        ).fetchall()
    assert len(rows) > 50
    month, day = policy.fiscal_year_start
    for created_at, created_on, year, quarter in rows:
        assert created_on == created_at.date()
        period = fiscal_period(created_on, month, day, policy.period_end_days)
        assert (period.fiscal_year, period.fiscal_quarter) == (year, quarter), created_at
    quarters = {(year, quarter) for _, _, year, quarter in rows}
    assert (2027, 4) in quarters  # this quarter (November to January) is not empty
    assert len({created_at.date() for created_at, _, _, _ in rows}) > 40  # not one day
    summary = client.get("/v1/overrides/summary?group_by=fiscal_quarter", headers=admin).json
    this_quarter = next(i for i in summary["items"] if i["key"] == "FY2027-Q4")
    assert this_quarter["count"] > 0
    executives = client.get("/v1/overrides/summary?group_by=executive", headers=admin).json
    assert [i["key"] for i in executives["items"]] == ["demo.ceo", "demo.vp_sales.outside"]
    assert Decimal(executives["items"][1]["excess_value"]) > 0  # beyond their own ceiling
    one_quarter = client.get(
        "/v1/overrides?from=2026-08-01&to=2026-10-31&limit=500", headers=admin
    ).json["items"]
    assert one_quarter  # a date range of Q3 finds Q3's overrides, and only those
    assert {(o["period"]["fiscal_year"], o["period"]["fiscal_quarter"]) for o in one_quarter} == {
        (2027, 3)
    }


def test_a_policy_without_the_story_levers_seeds_no_history(
    pool: ConnectionPool, shipped: PolicySet, db: str
) -> None:
    import dataclasses

    bare = dataclasses.replace(shipped.active, levers=shipped.active.levers[:1])
    with transaction(pool) as conn:
        seed_demo(conn, bare)
        assert seed_history(conn, bare, date(2026, 12, 1)) == 0
        assert conn.execute("SELECT count(*) FROM asks").fetchone() == (0,)
