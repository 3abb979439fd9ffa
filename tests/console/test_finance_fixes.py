"""What a finance auditor found on the console: buckets of different lengths compared per day,
no page pointing at our internal documents, the register newest first."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask

from api.policy.period import quarter_bounds
from api.reports.buckets import days_covered
from tests.console.loop import person_client, text

Q2 = (date(2026, 5, 1), date(2026, 7, 31))  # FY2027-Q2 under a February fiscal year


@pytest.mark.parametrize(
    ("bucket", "start", "end", "days"),
    [
        ("0-6", None, date(2026, 7, 31), 7),
        ("7-13", None, date(2026, 7, 31), 7),
        ("14-27", None, date(2026, 7, 31), 14),
        ("28-55", None, date(2026, 7, 31), 28),
        ("56+", None, date(2026, 7, 31), 36),  # May 1 .. Jun 5
        ("28-55", None, date(2026, 6, 10), 5),  # the quarter still running: Jun 6 .. 10
        ("0-6", None, date(2026, 6, 10), 0),  # not reached yet
        ("56+", date(2026, 6, 1), date(2026, 7, 31), 5),  # cut by `from`: Jun 1 .. 5
        ("14-27", date(2026, 8, 1), date(2026, 9, 1), 0),  # the range misses the quarter
    ],
)
def test_days_covered(bucket: str, start: date | None, end: date, days: int) -> None:
    assert days_covered(bucket, Q2, start, end) == days


@pytest.mark.parametrize(
    ("year", "quarter", "start", "bounds"),
    [
        (2027, 2, (2, 1), Q2),
        (2027, 4, (2, 1), (date(2026, 11, 1), date(2027, 1, 31))),
        (2026, 1, (1, 1), (date(2026, 1, 1), date(2026, 3, 31))),
        (2027, 1, (7, 1), (date(2026, 7, 1), date(2026, 9, 30))),
    ],
)
def test_quarter_bounds(
    year: int, quarter: int, start: tuple[int, int], bounds: tuple[date, date]
) -> None:
    assert quarter_bounds(year, quarter, *start) == bounds


FINANCE_PAGES = [
    "/console/",
    "/console/reports",
    "/console/reports/threshold-proximity",
    "/console/reports/period-end",
    "/console/reports/rescues",
    "/console/reports/seller-timeline",
    "/console/reports/customer-no",
    "/console/overrides",
    "/console/audit",
    "/console/policies",
    "/console/policies/matrix",
]


def test_no_page_points_at_an_internal_document(
    app: Flask, overrides: list[dict[str, Any]], bound_key: Callable[..., str]
) -> None:
    client = person_client(app, bound_key("cfo.chen", "audit:read", name="chen"))
    for path in FINANCE_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert not re.search(r"DESIGN|section \d", text(response)), path
    assert (
        "Who swoops in, when, how authority is gamed, and how long approvals wait. Each report"
        in text(client.get("/console/reports"))
    )


def test_the_register_pages_newest_first_under_a_filter(
    app: Flask, overrides: list[dict[str, Any]], bound_key: Callable[..., str]
) -> None:
    client = person_client(app, bound_key("cfo.chen", "audit:read", name="chen"))
    first = text(client.get("/console/overrides?executive_id=vp.garcia&limit=1"))
    ids = re.findall(r'<a href="/console/overrides/([0-9a-f-]{36})">', first)
    assert ids == [overrides[2]["id"]]
    next_url = re.search(r'href="([^"]+)"[^>]*id="next-page"', first)
    assert next_url is not None
    second = text(client.get(next_url.group(1).replace("&amp;", "&")))
    assert re.findall(r'<a href="/console/overrides/([0-9a-f-]{36})">', second) == [
        overrides[0]["id"]
    ]
    assert "End of the list." in second
