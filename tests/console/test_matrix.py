"""The authority matrix against the shipped policy file, read here on its own (YAML, the
inheritance rule of policies/README.md), and the favicon every page links."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.policy.loader import load_policy_dir
from tests.conftest import POLICIES, ROOT
from tests.console.loop import person_client, plain, text
from tests.sla_policy import SHIPPED_SLA

SHIPPED = yaml.safe_load((POLICIES / "deal-authority.yaml").read_text())["spec"]


def expected_ceilings() -> dict[str, list[str]]:
    """Per lever, every tier's ceiling: a tier left out takes the one below (the lowest 0)."""
    result = {}
    for name, lever in SHIPPED["levers"].items():
        values, current = [], Decimal(0)
        for tier in SHIPPED["tiers"]:
            current = max(current, Decimal(str(lever["ceilings"].get(tier, current))))
            values.append(f"{current.normalize():f}")
        result[name] = values
    return result


def matrix_cells(html: str) -> dict[str, list[str]]:
    table = html.split('<table id="matrix">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    found = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        head = plain(re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1))  # type: ignore[union-attr]
        found[head] = [plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return found


def test_the_matrix_is_the_shipped_policy_with_inheritance_resolved(
    app: Flask, org: Any, bound_key: Callable[..., str]
) -> None:
    client = person_client(app, bound_key("am.jones", "evaluate", name="jones"))
    html = text(client.get("/console/policies/matrix"))
    cells = matrix_cells(html)
    levers = list(SHIPPED["levers"])
    expected = expected_ceilings()
    assert list(cells) == [*SHIPPED["tiers"], "absolute maximum"]
    for rank, tier in enumerate(SHIPPED["tiers"]):
        numbers = [cell.split(" ")[0] for cell in cells[tier]]
        assert numbers == [expected[lever][rank] for lever in levers], tier
    assert cells["sales_manager"][1] == "0 (as account_manager)"  # rebate_pct, not named
    assert cells["cfo"][1] == "5 (as vp_sales)"
    assert cells["ceo"][0] == "50"  # named
    assert cells["absolute maximum"] == [
        str(SHIPPED["levers"][lever].get("absolute_max", "none")) for lever in levers
    ]
    assert "<strong>deal-authority 2026.11.0</strong>" in html
    assert (
        "<strong>public-sector</strong>: when <code>has(deal.account) &amp;&amp; "
        "has(deal.account.segment) &amp;&amp; deal.account.segment == &#34;public_sector&#34;"
        "</code>, it caps discount_pct: account_manager 5, vp_sales 15. "
        "<em>Public-sector price rules cap discounts.</em>"
    ) in html
    ladder = re.search(
        r'<table class="ladder" id="rule-public-sector-discount_pct">(.*?)</table>', html, re.S
    )
    assert ladder is not None
    # min(the lever's own ceiling, the rule's cap), per tier
    assert [plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", ladder.group(1))] == [
        "5",
        "5",
        "5",
        "15",
        "15",
        "15",
    ]
    assert (
        "it needs approval from cfo or above. <em>Deals of 1M or more need CFO sign-off.</em>"
        in html
    )
    assert (
        "it denies the deal: Special billing arrangements are not granted in the year-end window."
        in html
    )
    assert "it flags the request seller_timeline." in html
    routing = re.findall(r'<td data-label="Approver">([^<]+)</td>', html)
    assert routing == [
        "the nearest active manager in the owner's chain at or above this tier".replace(
            "'", "&#39;"
        )
    ] * 4 + ["the one active person holding this tier in the registry", routing[5]]
    sla = SHIPPED["sla"]
    assert (sla["hours"], sla["period_end_hours"], sla["remind_after"]) == (24, 4, 0.5)
    assert sla["escalate"] == "manager"
    assert facts(html) == [
        ("Fiscal year starts", "02-01 (month-day)"),
        ("Period-end window", f"the last {SHIPPED['period_end_days']} days of a quarter"),
        ("Time to act on a step", "24 hours from when it becomes current"),
        ("Inside a period-end window", "4 hours"),
        ("Reminder", "to the approver at 50% of the time: after 12 hours (2 inside the window)"),
        (
            "When a step is overdue",
            "the approver's nearest active manager at or above the step's tier may act on it "
            "too, and one manager higher after each further period, until the chain ends",
        ),
    ]
    assert 'id="no-sla"' not in html


def facts(html: str) -> list[tuple[str, str]]:
    """The "Periods and service level" list as (label, text) pairs."""
    block = html.split('<dl class="facts" id="periods">', 1)[1].split("</dl>", 1)[0]
    pairs = re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", block, re.S)
    return [(plain(label), plain(value)) for label, value in pairs]


@pytest.mark.parametrize(
    ("sla", "shown"),
    [
        ("", [("Service level", "none: approval steps are not timed")]),
        (
            "  sla:\n    hours: 0.5\n    period_end_hours: 0.25\n    remind_after: 0.8\n"
            "    escalate: none\n",
            [
                ("Time to act on a step", "0.5 hours from when it becomes current"),
                ("Inside a period-end window", "0.25 hours"),
                (
                    "Reminder",
                    "to the approver at 80% of the time: after 0.4 hours (0.2 inside the window)",
                ),
                (
                    "When a step is overdue",
                    "it waits for its approver (or their delegate): nothing moves it up",
                ),
            ],
        ),
    ],
    ids=["no sla", "fractional, no escalation"],
)
def test_the_matrix_says_what_the_policy_in_force_times(
    settings: Settings,
    pool: ConnectionPool,
    tmp_path: Path,
    org: Any,
    bound_key: Callable[..., str],
    sla: str,
    shown: list[tuple[str, str]],
) -> None:
    text_ = (POLICIES / "deal-authority.yaml").read_text()
    assert SHIPPED_SLA in text_
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "deal-authority.yaml").write_text(text_.replace(SHIPPED_SLA, sla))
    app = create_app(settings, pool=pool, policy_set=load_policy_dir(directory))
    app.config["TESTING"] = True
    client = person_client(app, bound_key("am.jones", "evaluate", name="jones"))
    html = text(client.get("/console/policies/matrix"))
    assert facts(html)[2:] == shown


def test_the_favicon_is_served_and_linked(client: FlaskClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/x-icon"
    assert response.data == (ROOT / "api" / "console" / "static" / "favicon.ico").read_bytes()
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    page = text(client.get("/console/sign-in"))
    assert '<link rel="icon" href="/console/static/favicon.ico" type="image/x-icon">' in page
