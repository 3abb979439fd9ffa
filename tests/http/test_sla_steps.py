"""Steps over HTTP under the shipped policy's SLA (24 h, 4 h in a period-end window):
`assigned_at` when a step becomes current, `due_at` from the SLA in force that day,
`eligible` and `escalations`."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from api.config import Settings
from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
BASE = "/v1/approval-requests"


def submit(client: FlaskClient, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"deal": deal(**fields), "requested_by": "am.jones"}
    response = client.post(BASE, json=body, headers=admin)
    assert response.status_code == 201, response.json
    result: dict[str, Any] = response.json
    return result


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stored(db: str, rid: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT seq, assigned_at, due_at, sla_stage, sla_next_at FROM approval_steps "
            "WHERE request_id = %s ORDER BY seq",
            (rid,),
        ).fetchall()


def test_the_current_step_is_assigned_and_due_in_24_hours(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    body = submit(client, admin, discount_pct="18", list_amount="2000000.00")
    first, second = body["steps"]
    assert (first["tier"], second["tier"]) == ("sales_director", "cfo")
    assert first["assigned_at"] == body["created_at"]
    assert at(first["due_at"]) - at(first["assigned_at"]) == timedelta(hours=24)
    assert first["eligible"] == [{"id": "sd.patel", "tier": "sales_director"}]
    assert first["escalations"] == []
    assert (second["assigned_at"], second["due_at"], second["eligible"]) == (None, None, [])
    (_, assigned, due, stage, next_at), (_, none1, none2, _, none3) = stored(db, body["id"])
    assert (due - assigned, next_at - assigned, stage) == (
        timedelta(hours=24),
        timedelta(hours=12),  # the reminder, at remind_after 0.5
        0,
    )
    assert (none1, none2, none3) == (None, None, None)

    approved = client.post(
        f"{BASE}/{body['id']}/approve", json={"approver_id": "sd.patel"}, headers=admin
    ).json
    first, second = approved["steps"]
    assert (first["eligible"], first["acted_by"]) == ([], "sd.patel")
    assert second["assigned_at"] == approved["updated_at"]
    assert at(second["due_at"]) - at(second["assigned_at"]) == timedelta(hours=24)
    assert second["eligible"] == [{"id": "cfo.chen", "tier": "cfo"}]
    rows = stored(db, body["id"])
    assert rows[0][4] is None  # acted on: no longer timed
    assert rows[1][2] - rows[1][1] == timedelta(hours=24)
    again = client.get(f"{BASE}/{body['id']}", headers=admin).json
    assert again["steps"] == approved["steps"]


@pytest.fixture()
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    today = getattr(request, "param", settings.today)
    return dataclasses.replace(settings, today=today)


@pytest.mark.parametrize(
    ("settings", "hours"),
    [
        pytest.param(date(2026, 6, 10), 24, id="mid-quarter: 24 h"),
        pytest.param(date(2026, 7, 17), 24, id="a day before the window: 24 h"),
        pytest.param(date(2026, 7, 18), 4, id="the window's first day: 4 h"),
        pytest.param(date(2027, 1, 30), 4, id="year end: 4 h"),
    ],
    indirect=["settings"],
)
def test_due_at_uses_the_period_end_sla_inside_the_window(
    client: FlaskClient, admin: dict[str, str], hours: int
) -> None:
    first = submit(client, admin, discount_pct="12")["steps"][0]
    assert first["tier"] == "sales_manager"
    assert at(first["due_at"]) - at(first["assigned_at"]) == timedelta(hours=hours)


def test_a_revision_restarts_the_clock_and_a_return_stops_it(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    body = submit(client, admin, discount_pct="18")
    rid = body["id"]
    returned = client.post(
        f"{BASE}/{rid}/return", json={"approver_id": "sd.patel", "comment": "Less."}, headers=admin
    ).json
    assert returned["steps"][0]["eligible"] == [] and stored(db, rid)[0][4] is None
    revised = client.post(
        f"{BASE}/{rid}/revise",
        json={"deal": deal(discount_pct="17"), "requested_by": "am.jones"},
        headers=admin,
    ).json
    step = revised["steps"][0]
    assert (step["state"], step["assigned_at"]) == ("pending", revised["updated_at"])
    assert at(step["due_at"]) - at(step["assigned_at"]) == timedelta(hours=24)
    assert stored(db, rid)[0][4] is not None


def test_eligible_lists_the_active_delegate(client: FlaskClient, admin: dict[str, str]) -> None:
    person = {"name": "Patel", "tier": "sales_director", "manager_id": "vp.garcia"}
    delegated = {**person, "delegate": {"id": "vp.west", "from": "2026-06-01", "to": "2026-06-30"}}
    assert client.put("/v1/people/sd.patel", json=delegated, headers=admin).status_code == 200
    rid = submit(client, admin, discount_pct="18")["id"]
    listed = client.get(f"{BASE}?approver_id=vp.west", headers=admin).json["items"]
    assert [r["id"] for r in listed] == [rid]
    assert listed[0]["steps"][0]["eligible"] == [
        {"id": "sd.patel", "tier": "sales_director"},
        {"id": "vp.west", "tier": "vp_sales"},
    ]
    later = {**person, "delegate": {"id": "vp.west", "from": "2026-07-01"}}
    assert client.put("/v1/people/sd.patel", json=later, headers=admin).status_code == 200
    shown = client.get(f"{BASE}/{rid}", headers=admin).json
    assert shown["steps"][0]["eligible"] == [{"id": "sd.patel", "tier": "sales_director"}]
