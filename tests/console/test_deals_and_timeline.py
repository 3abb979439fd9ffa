"""My deals (returns with their coaching, overrides around the owner to acknowledge) and a
request's full timeline: asks and revisions with findings, steps, overrides, audit events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.console.loop import person_client, post_form, rows, submit, text

COACHING = "Lead with a 3-year term before any deeper discount."
WHY = "The competitor offered 25% and the logo is strategic for EMEA."


def returned_request(client: FlaskClient, admin: dict[str, str]) -> dict[str, Any]:
    request = submit(client, admin, "Q-7")
    body = {"approver_id": "sd.patel", "comment": COACHING}
    response = client.post(
        f"/v1/approval-requests/{request['id']}/return", json=body, headers=admin
    )
    assert response.status_code == 200, response.json
    return dict(response.json)


def override_around(client: FlaskClient, admin: dict[str, str], request_id: str) -> dict[str, Any]:
    body = {
        "executive_id": "vp.garcia",
        "request_id": request_id,
        "terms": {"discount_pct": "25"},
        "reason_code": "competitive_displacement",
        "justification": WHY,
    }
    response = client.post("/v1/overrides", json=body, headers=admin)
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_my_deals_shows_open_requests_returns_and_overrides_to_acknowledge(
    app: Flask,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    waiting = submit(client, admin, "Q-1")
    back = returned_request(client, admin)
    rescued = submit(client, admin, "Q-9")
    override = override_around(client, admin, rescued["id"])
    assert override["categories"] == ["bypassed_owner"]
    jones = person_client(app, bound_key("am.jones", "requests", name="jones"))
    html = text(jones.get("/console/deals"))
    assert rows(html, "returned") == [
        {
            "Deal": "Q-7",
            "Returned by": "sd.patel (sales_director)",
            "Returned (UTC)": back["steps"][0]["acted_at"].replace("T", " ")[:19],
            "Coaching": COACHING,
        }
    ]
    assert rows(html, "open-requests") == [
        {
            "Deal": "Q-1",
            "State": "pending",
            "Waiting for": "sd.patel (sales_director)",
            "What is asked": "discount_pct 18",
            "Submitted (UTC)": waiting["created_at"].replace("T", " ")[:19],
        }
    ]
    assert f'href="/console/requests/{back["id"]}"' in html
    [row] = rows(html, "to-acknowledge")
    assert row["Deal"] == "Q-9"
    assert row["Executive"] == "vp.garcia (vp_sales)"
    assert row["Reason"] == f"competitive_displacement: {WHY}"
    assert row["Excess value"] == "0.00 USD"
    assert 'id="acknowledged"' not in html

    response = post_form(
        jones, "/console/deals", f"/console/overrides/{override['id']}/acknowledge"
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/deals"
    api = client.get(f"/v1/overrides/{override['id']}", headers=admin).json
    assert api["owner_acknowledged"] is True
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    acks = [e for e in events if e["type"] == "override.acknowledged"]
    assert [(e["actor"], e["payload"]["via_key"]) for e in acks] == [("am.jones", "jones")]
    after = text(jones.get("/console/deals"))
    assert 'id="notice">You acknowledged vp.garcia&#39;s override of Q-9.</div>' in after
    assert rows(after, "to-acknowledge") == []
    assert [r["Deal"] for r in rows(after, "acknowledged")] == ["Q-9"]


def test_only_the_owner_acknowledges_from_the_console(
    app: Flask,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    override = override_around(client, admin, submit(client, admin, "Q-9")["id"])
    kim = person_client(app, bound_key("am.kim", "requests", name="kim"))
    response = post_form(kim, "/console/deals", f"/console/overrides/{override['id']}/acknowledge")
    assert response.status_code == 403
    assert "Only the deal&#39;s owner acknowledges an override of their deal." in text(response)
    lee = person_client(app, bound_key("am.jones", "approvals", name="jones-approvals"))
    refused = lee.post(f"/console/overrides/{override['id']}/acknowledge", data={})
    assert refused.status_code == 400  # no CSRF token: refused before anything else
    assert (
        client.get(f"/v1/overrides/{override['id']}", headers=admin).json["owner_acknowledged"]
        is False
    )


def test_the_request_page_holds_the_whole_timeline(
    app: Flask,
    client: FlaskClient,
    org: Any,
    admin: dict[str, str],
    bound_key: Callable[..., str],
) -> None:
    back = returned_request(client, admin)
    rid = back["id"]
    revised_deal = {**back["deal"], "discount_pct": "14"}
    revision = client.post(
        f"/v1/approval-requests/{rid}/revise",
        json={"requested_by": "am.jones", "deal": revised_deal},
        headers=admin,
    )
    assert revision.status_code == 200, revision.json
    override = override_around(client, admin, rid)
    finance = person_client(app, bound_key("cfo.chen", "audit:read", name="chen"))
    html = text(finance.get(f"/console/requests/{rid}"))
    assert 'id="request-state">overridden</span>' in html
    assert rows(html, "ask-1") == [
        {
            "Lever": "discount_pct",
            "Asked": "18",
            "Own ceiling": "10",
            "Headroom": "-8",
            "Finding": "needs approval (needs sales_director): 18 is above account_manager's "
            "ceiling of 10 and within sales_director's 20.",
        }
    ]
    assert rows(html, "ask-2") == [
        {
            "Lever": "discount_pct",
            "Asked": "14",
            "Own ceiling": "10",
            "Headroom": "-4",
            "Finding": "needs approval (needs sales_manager): 14 is above account_manager's "
            "ceiling of 10 and within sales_manager's 15.",
        }
    ]
    assert "1. Submission by am.jones (account_manager) at" in html
    assert "2. Revision by am.jones (account_manager) at" in html
    assert "FY2027-Q2, 51 days to quarter end: needs approval</caption>" in html
    [step] = rows(html, "steps")
    # the request was overridden while this step waited: the page says it was never acted on,
    # rather than "pending" on a request nobody can act on any more
    assert (step["Tier"], step["Approver"], step["State"]) == (
        "sales_manager",
        "sm.lee",
        "not acted (request overridden)",
    )
    [linked] = rows(html, "linked-overrides")
    assert linked["Executive"] == "vp.garcia (vp_sales)"
    assert linked["Categories"] == "bypassed_owner"
    assert f'href="/console/overrides/{override["id"]}"' in html
    events = rows(html, "request-events")
    assert [(e["Type"], e["Actor"]) for e in events] == [
        ("request.submitted", "am.jones"),
        ("request.return", "sd.patel"),
        ("request.revised", "am.jones"),
        ("override.created", "vp.garcia"),
    ]
    assert events[1]["Comment or payload"] == COACHING

    page = text(finance.get(f"/console/overrides/{override['id']}"))
    assert (
        f'<dd id="request-link"><a href="/console/requests/{rid}">the request for Q-7</a>' in page
    )
