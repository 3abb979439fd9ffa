"""The approval-times report in the console (DESIGN 14): on the step timings planted for the
API's own test, whose answers were worked out by hand, the table holds exactly those
numbers, the chart draws the medians and p90s from the same cells, and the CSV link is the
API's CSV for the same filter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.console.conftest import sign_in
from tests.console.test_reports import chart, columns, table
from tests.http.reporting import items
from tests.http.test_approval_times import planted

pytestmark = pytest.mark.usefixtures("org", "planted", "auditor")
__all__ = ["planted"]
HEADS = [
    "steps",
    "acted",
    "median hours",
    "p90 hours",
    "overdue",
    "escalated",
    "period-end median hours",
    "rescued after overdue",
]


@pytest.fixture()
def auditor(client: FlaskClient, make_key: Callable[..., str]) -> None:
    assert sign_in(client, make_key("audit:read", name="auditor")).status_code == 302


def cells(item: dict[str, Any]) -> list[str]:
    return ["—" if v is None else str(v) for v in item.values()]


def test_by_tier_the_table_is_the_worked_answer_and_the_api(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    html = client.get("/console/reports/approval-times").get_data(as_text=True)
    assert columns(html) == ["tier", *HEADS]
    assert table(html) == [
        ["sales_manager", "3", "3", "1.2346", "7", "1", "0", "—", "1"],
        ["sales_director", "6", "5", "3", "10", "2", "2", "2", "1"],
    ]
    assert table(html) == [cells(i) for i in items(client, admin, "approval-times")]
    spec = chart(html)
    assert spec["labels"] == ["sales_manager", "sales_director"]
    assert [(d["label"], d["data"]) for d in spec["datasets"]] == [
        ("median hours", [1.2346, 3.0]),
        ("p90 hours", [7.0, 10.0]),
    ]
    assert spec["precision"] is None  # fractional hours: the axis is not forced to whole steps
    summary = (
        "Bar chart per tier: the median and the 90th percentile of the hours a step waited "
        "from becoming current to being acted on. Slowest at p90: sales_director (10 hours). "
        "Overrides around the owner after a step went overdue: 2."
    )
    assert f'<p class="muted" id="chart-summary">{summary}</p>' in html
    assert f'aria-label="{summary} The table below holds the same numbers."' in html
    assert (
        "Hours from assigned to acted, overdue and escalated steps per tier: 2 rows</caption>"
        in html
    )
    assert '<a href="/console/reports/approval-times.csv" download>' in html
    assert '<option value="approver">approver</option>' in html


def test_by_approver_over_a_range_and_its_csv(client: FlaskClient, admin: dict[str, str]) -> None:
    query = "group_by=approver&from=2026-06-01"
    fragment = client.get(
        f"/console/reports/approval-times?{query}", headers={"HX-Request": "true"}
    )
    html = fragment.get_data(as_text=True)
    assert "<html" not in html
    assert columns(html) == ["approver", *HEADS]
    assert table(html) == [
        ["sd.patel", "5", "4", "2", "4", "1", "1", "2", "1"],
        ["sm.lee", "2", "2", "0.5", "1.2346", "1", "0", "—", "1"],
        ["vp.west", "1", "1", "10", "10", "1", "1", "—", "0"],
    ]
    assert table(html) == [cells(i) for i in items(client, admin, f"approval-times?{query}")]
    link = "/console/reports/approval-times.csv?from=2026-06-01&amp;group_by=approver"
    assert f'<a href="{link}" download>' in html
    mine = client.get(f"/console/reports/approval-times.csv?{query}").get_data(as_text=True)
    api = client.get(
        f"/v1/reports/approval-times?{query}", headers={**admin, "Accept": "text/csv"}
    ).get_data(as_text=True)
    assert mine == api
    assert mine.splitlines()[1] == "sd.patel,5,4,2,4,1,1,2,1"


def test_an_empty_range_says_so(client: FlaskClient) -> None:
    html = client.get("/console/reports/approval-times?from=2027-01-01").get_data(as_text=True)
    assert table(html) == []
    assert '<td colspan="9">Nothing in this window.</td>' in html
    assert "No step was acted on in this window." in html
