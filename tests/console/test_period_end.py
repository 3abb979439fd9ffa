"""The overview's period-end share, on a date inside the quarter-end window."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from api.config import Settings
from tests.console.conftest import sign_in


@pytest.fixture()
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, today=date(2026, 7, 25))  # Q2 ends on 07-31


def test_period_end_share_of_count_and_excess(
    client: FlaskClient,
    overrides: list[dict[str, Any]],
    make_key: Any,
    admin: dict[str, str],
    db: str,
) -> None:
    assert all(o["period"]["is_quarter_end"] for o in overrides)
    with psycopg.connect(db) as conn:  # one of the three as if made before the window
        conn.execute("UPDATE overrides SET period_end = false WHERE deal_id = 'Q-3'")
    summary = client.get("/v1/overrides/summary?group_by=fiscal_quarter", headers=admin).json
    assert summary["items"][0]["period_end_count"] == 2
    sign_in(client, make_key("audit:read", name="auditor"))
    html = client.get("/console/").get_data(as_text=True)
    assert "Fiscal FY2027-Q2, as of 2026-07-25; 6 days to the quarter's end (inside the" in html
    assert (
        'id="tile-period-end">66.7%<span class="sub"> of overrides (2), '
        "66.7% of excess value</span>" in html
    )
