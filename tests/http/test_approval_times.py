"""GET /v1/reports/approval-times on planted step timings whose answers were worked out by
hand: nearest-rank median and p90 in hours to four places, overdue, escalated, the
period-end median and the overrides that followed an overdue step; CSV = JSON; the 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from tests.http.conftest import deal
from tests.http.reporting import csv_rows, flat, items

pytestmark = pytest.mark.usefixtures("org")
HOUR_US = 3_600_000_000
JUNE = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
MAY = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)

# (tier, approver, assigned, waited hours or None, period_end, overdue, escalated, rescued)
PLANTED = [
    ("sales_director", "sd.patel", JUNE, "1", False, False, False, False),
    ("sales_director", "sd.patel", JUNE, "2", True, False, False, False),
    ("sales_director", "sd.patel", JUNE, "3", False, False, False, False),
    ("sales_director", "sd.patel", JUNE, "4", True, False, False, False),
    ("sales_director", "vp.west", JUNE, "10", False, True, True, False),
    ("sales_director", "sd.patel", JUNE, None, False, True, True, True),
    ("sales_manager", "sm.lee", JUNE, "0.5", False, False, False, False),
    ("sales_manager", "sm.lee", JUNE, "1.23456", False, True, False, True),
    ("sales_manager", "sm.lee", MAY, "7", False, False, False, False),
]


def submit(client: FlaskClient, admin: dict[str, str], **body: Any) -> str:
    response = client.post("/v1/approval-requests", json=body, headers=admin)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


@pytest.fixture()
def planted(client: FlaskClient, admin: dict[str, str], db: str, org: Any) -> None:
    """One ordinary request, and one an executive took around its owner (an override with
    bypassed_owner): the rescued rows belong to the second."""
    plain = submit(client, admin, deal=deal(deal_id="Q-1"), requested_by="am.jones")
    rescued = submit(
        client,
        admin,
        deal=deal(deal_id="Q-2", discount_pct="25"),
        requested_by="vp.west",
        reason_code="competitive_displacement",
        justification="Nobody had answered in two days.",
    )
    with psycopg.connect(db) as conn:
        conn.execute("DELETE FROM step_timings")
        for n, (tier, who, at, waited, window, overdue, escalated, bypassed) in enumerate(PLANTED):
            us = None if waited is None else int(float(waited) * HOUR_US)
            conn.execute(
                "INSERT INTO step_timings (request_id, seq, tier, approver_id, assigned_at,"
                " assigned_on, period_end, due_at, acted_at, acted_by, waited_us, overdue,"
                " escalated) VALUES (%s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    rescued if bypassed else plain,
                    tier,
                    who,
                    at + timedelta(minutes=n),
                    at.date(),
                    window,
                    at + timedelta(hours=4),
                    None if us is None else at + timedelta(microseconds=us),
                    None if us is None else who,
                    us,
                    overdue,
                    escalated,
                ),
            )


BY_TIER = [
    {
        "key": "sales_manager",
        "steps": 3,
        "acted": 3,
        "median_hours": "1.2346",  # 0.5, 1.23456, 7: the 2nd of 3, rounded half up
        "p90_hours": "7",
        "overdue": 1,
        "escalated": 0,
        "period_end_median_hours": None,
        "rescued_after_overdue": 1,
    },
    {
        "key": "sales_director",
        "steps": 6,
        "acted": 5,
        "median_hours": "3",  # 1, 2, 3, 4, 10: rank ceil(2.5) = 3
        "p90_hours": "10",  # rank ceil(4.5) = 5
        "overdue": 2,
        "escalated": 2,
        "period_end_median_hours": "2",  # 2, 4: rank 1
        "rescued_after_overdue": 1,
    },
]


@pytest.mark.usefixtures("planted")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", BY_TIER, id="by tier, all time, tiers in the policy's order"),
        pytest.param("?from=2026-05-01&to=2026-06-30", BY_TIER, id="a range holding it all"),
        pytest.param(
            "?group_by=tier&from=2026-06-01&to=2026-06-30",
            [
                {
                    **BY_TIER[0],
                    "steps": 2,
                    "acted": 2,
                    "median_hours": "0.5",
                    "p90_hours": "1.2346",
                },
                BY_TIER[1],
            ],
            id="by tier, June only",
        ),
        pytest.param(
            "?group_by=approver&from=2026-06-01",
            [
                {
                    "key": "sd.patel",
                    "steps": 5,
                    "acted": 4,
                    "median_hours": "2",
                    "p90_hours": "4",
                    "overdue": 1,
                    "escalated": 1,
                    "period_end_median_hours": "2",
                    "rescued_after_overdue": 1,
                },
                {
                    "key": "sm.lee",
                    "steps": 2,
                    "acted": 2,
                    "median_hours": "0.5",
                    "p90_hours": "1.2346",
                    "overdue": 1,
                    "escalated": 0,
                    "period_end_median_hours": None,
                    "rescued_after_overdue": 1,
                },
                {
                    "key": "vp.west",
                    "steps": 1,
                    "acted": 1,
                    "median_hours": "10",
                    "p90_hours": "10",
                    "overdue": 1,
                    "escalated": 1,
                    "period_end_median_hours": None,
                    "rescued_after_overdue": 0,
                },
            ],
            id="by approver",
        ),
        pytest.param("?from=2027-01-01", [], id="an empty range"),
    ],
)
def test_approval_times(
    client: FlaskClient, admin: dict[str, str], query: str, expected: list[dict[str, Any]]
) -> None:
    path = f"approval-times{query}"
    assert items(client, admin, path) == expected
    assert csv_rows(client, admin, path) == [flat(i) for i in expected]


def test_bad_group_is_422(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.get("/v1/reports/approval-times?group_by=owner", headers=admin)
    assert response.status_code == 422
    assert response.json["errors"] == {"group_by": ["Must be one of: tier, approver."]}


def test_live_steps_are_timed_for_the_report(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    rid = submit(client, admin, deal=deal(discount_pct="18"), requested_by="am.jones")
    done = client.post(
        f"/v1/approval-requests/{rid}/approve", json={"approver_id": "sd.patel"}, headers=admin
    )
    assert done.status_code == 200
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT tier, approver_id, acted_by, waited_us = (extract(epoch FROM acted_at - "
            "assigned_at) * 1000000)::bigint, overdue, escalated, period_end FROM step_timings"
        ).fetchall()
    assert row == [("sales_director", "sd.patel", "sd.patel", True, False, False, False)]
    (item,) = items(client, admin, "approval-times?group_by=approver")
    assert (item["key"], item["steps"], item["acted"]) == ("sd.patel", 1, 1)


def test_a_revision_supersedes_the_open_timing(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    rid = submit(client, admin, deal=deal(discount_pct="18"), requested_by="am.jones")
    revised = client.post(
        f"/v1/approval-requests/{rid}/revise",
        json={"deal": deal(discount_pct="17"), "requested_by": "am.jones"},
        headers=admin,
    )
    assert revised.status_code == 200
    done = client.post(
        f"/v1/approval-requests/{rid}/approve", json={"approver_id": "sd.patel"}, headers=admin
    )
    assert done.status_code == 200
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT superseded, acted_by FROM step_timings ORDER BY id").fetchall()
    assert rows == [(True, None), (False, "sd.patel")]
    (item,) = items(client, admin, "approval-times")
    assert (item["key"], item["steps"], item["acted"]) == ("sales_director", 2, 1)


def test_an_override_before_the_step_fell_due_is_no_rescue(
    client: FlaskClient, admin: dict[str, str], db: str, org: Any
) -> None:
    rescued = submit(
        client,
        admin,
        deal=deal(deal_id="Q-2", discount_pct="25"),
        requested_by="vp.west",
        reason_code="competitive_displacement",
        justification="Nobody had answered in two days.",
    )
    later = datetime.now(UTC) + timedelta(days=1)
    with psycopg.connect(db) as conn:
        conn.execute(
            "INSERT INTO step_timings (request_id, seq, tier, approver_id, assigned_at,"
            " assigned_on, period_end, due_at, overdue) VALUES (%s, 0, 'sales_director',"
            " 'sd.patel', %s, %s, false, %s, true)",
            (rescued, later - timedelta(hours=4), later.date(), later),
        )
    (item,) = items(client, admin, "approval-times")
    assert (item["key"], item["overdue"], item["rescued_after_overdue"]) == (
        "sales_director",
        1,
        0,
    )
