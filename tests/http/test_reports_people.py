"""Reports about people over HTTP, on hand-built history: who rescues instead of coaching,
close dates on the seller's clock, and deals pushed again after the customer's no (with the
after_customer_no flags on the decision: inside the window, one day past it, deeper or not)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.policy.loader import load_policy_dir
from api.service.policy_sets import publish
from api.storage.database import transaction
from tests.http.conftest import deal
from tests.http.reporting import act, items, on, override, revise, submit, withdraw

pytestmark = pytest.mark.usefixtures("org")
NO_OVERRIDES = {
    "beyond_policy": 0,
    "beyond_executive_authority": 0,
    "bypassed_owner": 0,
    "out_of_chain": 0,
}
NO_WITHDRAWALS = {
    "customer_declined": 0,
    "customer_delayed": 0,
    "lost_to_competitor": 0,
    "duplicate": 0,
    "other": 0,
}


def test_rescues_against_coaching(client: FlaskClient, admin: dict[str, str]) -> None:
    """sm.lee approves one, returns one (the owner then revises, which replaces the steps:
    the return still counts), rejects one. vp.garcia rescues two deals around the owner."""
    act(client, admin, submit(client, admin, "R-1", discount_pct="12")["id"], "approve", "sm.lee")
    returned = submit(client, admin, "R-2", discount_pct="14")["id"]
    act(client, admin, returned, "return", "sm.lee")
    revise(client, admin, returned, "R-2", discount_pct="13")
    act(client, admin, submit(client, admin, "R-3", discount_pct="13")["id"], "reject", "sm.lee")
    big = submit(client, admin, "R-4", discount_pct="18")["id"]  # waits for sd.patel
    override(client, admin, "vp.garcia", {"discount_pct": "25"}, request_id=big)
    override(client, admin, "vp.garcia", {"discount_pct": "35"}, deal=deal(deal_id="R-5"))
    assert items(client, admin, "rescues") == [
        {
            "key": "sm.lee",
            "approved": 1,
            "rejected": 1,
            "returned": 1,
            "overrides": NO_OVERRIDES,
            "rescues": 0,
            "coaching_share": "0.3333",  # 1 / (1 + 1 + 1 + 0)
        },
        {
            "key": "vp.garcia",
            "approved": 0,
            "rejected": 0,
            "returned": 0,
            "overrides": {**NO_OVERRIDES, "bypassed_owner": 2, "beyond_executive_authority": 1},
            "rescues": 2,
            "coaching_share": "0",  # 0 / (0 + 0 + 0 + 2)
        },
    ]
    assert items(client, admin, "rescues?to=2001-01-01") == []


def test_a_submission_around_the_owner_is_a_rescue(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    body = {
        "deal": deal(deal_id="R-6", discount_pct="12"),
        "requested_by": "vp.west",  # outside am.jones's chain
        "reason_code": "strategic_account",
        "justification": "Taking this one over for the renewal negotiation.",
    }
    assert client.post("/v1/approval-requests", json=body, headers=admin).status_code == 201
    assert items(client, admin, "rescues") == [
        {
            "key": "vp.west",
            "approved": 0,
            "rejected": 0,
            "returned": 0,
            "overrides": {**NO_OVERRIDES, "bypassed_owner": 1, "out_of_chain": 1},
            "rescues": 1,
            "coaching_share": "0",
        }
    ]


def test_seller_timeline(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    """FY2027-Q2 ends 2026-07-31, Q3 2026-10-31."""
    seller = {"close_date": "2026-07-20", "customer_target_date": "2026-09-30"}
    first = submit(client, admin, "T-1", discount_pct="12", **seller)["id"]
    second = submit(client, admin, "T-2", discount_pct="12", **seller)["id"]
    third = submit(client, admin, "T-3", discount_pct="12", close_date="2026-07-30")["id"]
    submit(client, admin, "T-K", owner_id="am.kim", close_date="2026-07-30")
    revise(client, admin, first, "T-1", discount_pct="12", close_date="2026-08-05")  # Q2 -> Q3
    revise(client, admin, second, "T-2", discount_pct="12", close_date="2026-07-31")  # same Q
    revise(client, admin, third, "T-3", discount_pct="12", close_date="2026-06-30")  # earlier
    revise(client, admin, third, "T-3", discount_pct="12")  # no close date: no slip
    assert items(client, admin, "seller-timeline") == [
        {"key": "am.jones", "requests": 3, "flagged": 2, "slips": 1},
        {"key": "am.kim", "requests": 1, "flagged": 0, "slips": 0},
    ]
    assert items(client, admin, "seller-timeline?flag=requester_not_owner") == [
        {"key": "am.jones", "requests": 3, "flagged": 0, "slips": 1},
        {"key": "am.kim", "requests": 1, "flagged": 0, "slips": 0},
    ]
    on(app, "2026-12-01")
    assert items(client, admin, "seller-timeline?from=1999-01-01&to=1999-01-01") == []


def _after_no(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    deal_id: str,
    again_on: str,
    asked: dict[str, Any],
    code: str | None = "customer_declined",
) -> list[str]:
    """Submit at 2026-06-10 asking 12% with 1% rebate, withdraw with `code`, submit the deal
    again on `again_on` asking `asked`: the new decision's flags."""
    on(app, "2026-06-10")
    rid = submit(client, admin, deal_id, discount_pct="12", rebate_pct="1")["id"]
    withdraw(client, admin, rid, code)
    on(app, again_on)
    return list(submit(client, admin, deal_id, **asked)["decision"]["flags"])


SAME = {"discount_pct": "12", "rebate_pct": "1"}


@pytest.mark.parametrize(
    ("again_on", "asked", "code", "flags"),
    [
        pytest.param("2026-06-10", SAME, "customer_declined", ["after_customer_no"], id="same-day"),
        pytest.param(
            "2026-09-08", SAME, "customer_declined", ["after_customer_no"], id="day-90-inside"
        ),
        pytest.param("2026-09-09", SAME, "customer_declined", [], id="day-91-one-past"),
        pytest.param(
            "2026-07-10",
            {"discount_pct": "12.5", "rebate_pct": "1"},
            "customer_declined",
            ["after_customer_no", "deeper_after_customer_no"],
            id="deeper-discount",
        ),
        pytest.param(
            "2026-07-10",
            {"discount_pct": "12", "rebate_pct": "1", "payment_terms_days": 30},
            "customer_declined",
            ["after_customer_no", "deeper_after_customer_no"],
            id="deeper-a-lever-not-asked-before",
        ),
        pytest.param(
            "2026-07-10",
            {"discount_pct": "10"},
            "customer_declined",
            ["after_customer_no"],
            id="not-deeper-less-asked",
        ),
        pytest.param("2026-07-10", SAME, "customer_delayed", [], id="delayed-is-not-a-no"),
        pytest.param("2026-07-10", SAME, None, [], id="no-reason-code"),
    ],
)
def test_after_customer_no_flags(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    again_on: str,
    asked: dict[str, Any],
    code: str | None,
    flags: list[str],
) -> None:
    assert _after_no(app, client, admin, "N-1", again_on, asked, code) == flags


def test_the_window_is_the_policys(
    app: Flask, client: FlaskClient, admin: dict[str, str], tmp_path: Path
) -> None:
    text = (Path(__file__).resolve().parents[2] / "policies" / "deal-authority.yaml").read_text()
    (tmp_path / "p.yaml").write_text(
        text.replace("  period_end_days: 14", "  period_end_days: 14\n  customer_no_days: 10")
    )
    runtime = app.extensions["dealdesk"]
    with transaction(runtime.pool) as conn:  # in force for every worker, as a publish is
        published = publish(conn, load_policy_dir(tmp_path), "test")
    runtime.policies.adopt(published)
    assert _after_no(app, client, admin, "N-10", "2026-06-20", SAME) == ["after_customer_no"]
    assert _after_no(app, client, admin, "N-11", "2026-06-21", SAME) == []


def test_a_revision_keeps_the_flags_and_rechecks_deeper(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    _after_no(app, client, admin, "N-2", "2026-07-01", SAME)
    [open_request] = client.get(
        "/v1/approval-requests?deal_id=N-2&state=pending", headers=admin
    ).json["items"]
    revised = revise(client, admin, open_request["id"], "N-2", discount_pct="14", rebate_pct="1")
    assert revised["decision"]["flags"] == ["after_customer_no", "deeper_after_customer_no"]


def test_customer_no_report(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    _after_no(app, client, admin, "N-1", "2026-07-01", SAME)  # after a no
    _after_no(app, client, admin, "N-2", "2026-07-01", {"discount_pct": "15"})  # and deeper
    _after_no(app, client, admin, "N-3", "2026-12-01", SAME)  # long after: not counted
    _after_no(app, client, admin, "N-4", "2026-07-01", SAME, "lost_to_competitor")
    _after_no(app, client, admin, "N-5", "2026-07-01", SAME, None)  # no code: not in the counts
    on(app, "2026-06-10")
    rid = submit(client, admin, "N-K", owner_id="am.kim", discount_pct="12")["id"]
    body = {"requested_by": "am.kim", "reason": "Bought elsewhere.", "reason_code": "other"}
    response = client.post(f"/v1/approval-requests/{rid}/withdraw", json=body, headers=admin)
    assert response.status_code == 200
    assert items(client, admin, "customer-no") == [
        {
            "key": "am.jones",
            "withdrawals": {**NO_WITHDRAWALS, "customer_declined": 3, "lost_to_competitor": 1},
            "after_no": 2,
            "deeper_after_no": 1,
        },
        {
            "key": "am.kim",
            "withdrawals": {**NO_WITHDRAWALS, "other": 1},
            "after_no": 0,
            "deeper_after_no": 0,
        },
    ]
    assert items(client, admin, "customer-no?from=2001-01-01&to=2001-12-31") == []


def test_withdraw_reason_code_must_be_known(client: FlaskClient, admin: dict[str, str]) -> None:
    rid = submit(client, admin, "W-1", discount_pct="12")["id"]
    body = {"requested_by": "am.jones", "reason": "No budget.", "reason_code": "no_budget"}
    response = client.post(f"/v1/approval-requests/{rid}/withdraw", json=body, headers=admin)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"] == {
        "reason_code": [
            "Must be one of: customer_declined, customer_delayed, lost_to_competitor, "
            "duplicate, other."
        ]
    }
    state = client.get(f"/v1/approval-requests/{rid}", headers=admin).json["state"]
    assert state == "pending"
