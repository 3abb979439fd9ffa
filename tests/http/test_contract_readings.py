"""Contract readings of DESIGN 3 and 4 that outside checks hold us to: exact decimals through
the workflow, 409 for any action on a request with no pending step whoever sends it, and
`overrides.min_tier` binding a submission or revision made around the owner."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
BASE = "/v1/approval-requests"
AROUND = {
    "reason_code": "competitive_displacement",
    "justification": "Competitor offered 25% on a 3-year term.",
}


def submit(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post(BASE, json={"requested_by": "am.jones", **body}, headers=headers)


def counts(db: str) -> tuple[int, int, int]:
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM approval_requests), (SELECT count(*) FROM overrides),"
            " (SELECT count(*) FROM audit_events)"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def no_step(state: str) -> dict[str, Any]:
    return {
        "type": "urn:dealdesk:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": f"The request is {state}; it has no step waiting for action.",
    }


def finished(client: FlaskClient, admin: dict[str, str], how: str) -> tuple[str, str]:
    """A request with no pending step, reached in one of the ways DESIGN lists."""
    if how == "approved-at-once":
        return submit(client, admin, deal=deal(discount_pct="8")).json["id"], "approved"
    if how == "denied":
        return submit(client, admin, deal=deal(discount_pct="55")).json["id"], "denied"
    rid = submit(client, admin, deal=deal(discount_pct="18")).json["id"]
    if how == "withdrawn":
        body = {"requested_by": "am.jones", "reason": "Customer went quiet."}
        assert client.post(f"{BASE}/{rid}/withdraw", json=body, headers=admin).status_code == 200
        return rid, "withdrawn"
    if how == "fully-approved":
        body = {"approver_id": "sd.patel"}
        assert client.post(f"{BASE}/{rid}/approve", json=body, headers=admin).status_code == 200
        return rid, "approved"
    body = {
        "executive_id": "vp.garcia",
        "request_id": rid,
        "terms": {"discount_pct": "35"},
        "reason_code": "strategic_account",
        "justification": "Strategic logo; the board asked for it.",
    }
    assert client.post("/v1/overrides", json=body, headers=admin).status_code == 201
    return rid, "overridden"


HOW = ["approved-at-once", "denied", "withdrawn", "fully-approved", "overridden"]
WHO = ["cfo.chen", "am.kim", "am.jones", "sd.patel"]  # outsider, stranger AM, owner, approver


@pytest.mark.parametrize("action", ["approve", "reject", "return"])
@pytest.mark.parametrize("how", HOW)
def test_no_pending_step_is_409_whoever_acts(
    client: FlaskClient, admin: dict[str, str], db: str, how: str, action: str
) -> None:
    rid, state = finished(client, admin, how)
    before = counts(db)
    for who in WHO:
        response = client.post(
            f"{BASE}/{rid}/{action}",
            json={"approver_id": who, "comment": "Please rework the terms."},
            headers=admin,
        )
        assert (response.status_code, response.json) == (409, no_step(state)), who
    assert counts(db) == before


def test_the_person_check_still_applies_while_a_step_is_pending(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    rid = submit(client, admin, deal=deal(discount_pct="18")).json["id"]
    response = client.post(f"{BASE}/{rid}/approve", json={"approver_id": "am.kim"}, headers=admin)
    assert (response.status_code, response.json["detail"]) == (
        403,
        "'am.kim' is not an approver (or their delegate) on this request.",
    )


def test_a_team_lead_below_min_tier_may_not_submit_around_the_owner(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    before = counts(db)
    missing = submit(client, admin, deal=deal(discount_pct="12"), requested_by="sm.lee")
    assert (missing.status_code, missing.json["errors"]) == (
        422,
        {
            "reason_code": ["Required when someone other than the owner submits."],
            "justification": ["Required when someone other than the owner submits."],
        },
    )
    refused = submit(client, admin, deal=deal(discount_pct="12"), requested_by="sm.lee", **AROUND)
    assert (refused.status_code, refused.json) == (
        403,
        {
            "type": "urn:dealdesk:problem:forbidden",
            "title": "Forbidden",
            "status": 403,
            "detail": "Only vp_sales and above may override; sm.lee is sales_manager.",
        },
    )
    assert counts(db) == before == (0, 0, before[2])
    allowed = submit(
        client, admin, deal=deal(discount_pct="12"), requested_by="vp.garcia", **AROUND
    )
    assert (allowed.status_code, allowed.json["state"]) == (201, "approved")
    assert counts(db)[:2] == (1, 1)


def test_a_team_lead_below_min_tier_may_not_revise_around_the_owner(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    created = submit(client, admin, deal=deal(discount_pct="18"))
    rid = created.json["id"]
    before = counts(db)
    refused = client.post(
        f"{BASE}/{rid}/revise",
        json={"requested_by": "sd.patel", "deal": deal(discount_pct="20"), **AROUND},
        headers=admin,
    )
    assert (refused.status_code, refused.json["detail"]) == (
        403,
        "Only vp_sales and above may override; sd.patel is sales_director.",
    )
    assert counts(db) == before
    current = client.get(f"{BASE}/{rid}", headers=admin).json
    assert (current["version"], current["deal"]["discount_pct"]) == (1, "18")


def test_exact_decimals_survive_submission_and_override(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    text = (
        '{"requested_by": "am.jones", "deal": {"deal_id": "Q-9", "owner_id": "am.jones", '
        '"currency": "USD", "list_amount": 200000.000000000000000000001, '
        '"discount_pct": "8.00000000000000001"}}'
    )
    created = client.post(BASE, data=text, content_type="application/json", headers=admin)
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["deal"]["list_amount"], body["deal"]["discount_pct"]) == (
        "200000.000000000000000000001",
        "8.00000000000000001",
    )
    assert body["decision"]["findings"][0]["headroom"] == "1.99999999999999999"
    override = client.post(
        "/v1/overrides",
        json={
            "executive_id": "vp.garcia",
            "deal": deal(deal_id="Q-10", list_amount="9999999999999999999999999999"),
            "terms": {"discount_pct": "60"},
            "reason_code": "strategic_account",
            "justification": "Strategic logo; the board asked for it.",
        },
        headers=admin,
    )
    assert override.status_code == 201, override.json
    assert override.json["excess"] == [
        {"lever": "discount_pct", "value": "60", "approvable_max": "30", "excess": "30"}
    ]
    # 30% of 28 nines, to the cent: 30 digits, beyond the default context's 28
    assert override.json["excess_value"] == "2999999999999999999999999999.70"
