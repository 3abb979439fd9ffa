"""Approval requests over HTTP against the real database: routing, actions, revisions,
idempotency, If-Match, a real thread race, and acting around the owner."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
BASE = "/v1/approval-requests"


def submit(
    client: FlaskClient, headers: dict[str, str], requested_by: str = "am.jones", **fields: Any
) -> Any:
    return client.post(
        BASE, json={"deal": deal(**fields), "requested_by": requested_by}, headers=headers
    )


def act(client: FlaskClient, headers: dict[str, str], rid: str, action: str, **body: Any) -> Any:
    return client.post(f"{BASE}/{rid}/{action}", json=body, headers=headers)


def steps(response: Any) -> list[tuple[str, str | None, str]]:
    return [(s["tier"], s["approver_id"], s["state"]) for s in response.json["steps"]]


def event_types(db: str, rid: str) -> list[str]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT type FROM audit_events WHERE subject = %s ORDER BY id", (f"request:{rid}",)
        ).fetchall()
    return [r[0] for r in rows]


def test_within_authority_is_approved_at_once(client: FlaskClient, admin: dict[str, str]) -> None:
    response = submit(client, admin, discount_pct="8")
    assert response.status_code == 201
    body = response.json
    assert (body["state"], body["steps"], body["version"]) == ("approved", [], 1)
    assert body["owner"] == {"id": "am.jones", "tier": "account_manager"}
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{BASE}/{body['id']}"
    assert client.get(f"{BASE}/{body['id']}", headers=admin).json == body


def test_denied_deal_is_denied(client: FlaskClient, admin: dict[str, str]) -> None:
    response = submit(client, admin, discount_pct="55")
    assert (response.json["state"], response.json["steps"]) == ("denied", [])


def test_routes_through_the_chain_and_the_registry(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = submit(client, admin, discount_pct="18", list_amount="1000000")
    assert response.json["state"] == "pending"
    assert steps(response) == [
        ("sales_director", "sd.patel", "pending"),
        ("cfo", "cfo.chen", "pending"),
    ]


def test_two_cfos_make_the_request_stuck(client: FlaskClient, admin: dict[str, str]) -> None:
    client.put("/v1/people/cfo.two", json={"name": "Two", "tier": "cfo"}, headers=admin)
    response = submit(client, admin, list_amount="1000000")
    assert (response.json["state"], response.json["stuck_reason"]) == (
        "stuck",
        "2 active people hold tier cfo: cfo.chen, cfo.two",
    )
    again = submit(client, admin, list_amount="1000000")
    assert again.status_code == 409  # stuck is open: no second request for the deal


def test_inactive_director_routes_to_the_vp(client: FlaskClient, admin: dict[str, str]) -> None:
    client.put(
        "/v1/people/sd.patel",
        headers=admin,
        json={
            "name": "Patel",
            "tier": "sales_director",
            "manager_id": "vp.garcia",
            "active": False,
        },
    )
    response = submit(client, admin, discount_pct="18")
    assert steps(response) == [("sales_director", "vp.garcia", "pending")]


def test_full_approval_path_and_audit_events(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    rid = submit(client, admin, discount_pct="18", list_amount="1000000").json["id"]
    early = act(client, admin, rid, "approve", approver_id="cfo.chen")
    assert (early.status_code, early.json["detail"]) == (
        409,
        "Step 1 (sales_director) must be acted on first; 'cfo.chen' acts on a later step.",
    )
    assert act(client, admin, rid, "approve", approver_id="vp.west").status_code == 403
    assert act(client, admin, rid, "approve", approver_id="am.jones").status_code == 403
    first = act(client, admin, rid, "approve", approver_id="sd.patel", comment="ok")
    assert (first.json["state"], first.json["version"], first.headers["ETag"]) == (
        "pending",
        2,
        '"2"',
    )
    assert first.json["steps"][0]["acted_by"] == "sd.patel"
    second = act(client, admin, rid, "approve", approver_id="cfo.chen")
    assert (second.json["state"], steps(second)) == (
        "approved",
        [("sales_director", "sd.patel", "approved"), ("cfo", "cfo.chen", "approved")],
    )
    assert act(client, admin, rid, "approve", approver_id="cfo.chen").status_code == 409
    assert event_types(db, rid) == ["request.submitted", "request.approve", "request.approve"]
    with psycopg.connect(db) as conn:
        payload = conn.execute(
            "SELECT payload FROM audit_events WHERE type = 'request.approve' ORDER BY id LIMIT 1"
        ).fetchone()
    assert payload is not None
    assert {k: payload[0][k] for k in ("before", "after", "step", "comment")} == {
        "before": "pending",
        "after": "pending",
        "comment": "ok",
        "step": {"seq": 0, "tier": "sales_director", "approver_id": "sd.patel"},
    }


@pytest.mark.parametrize("action", ["reject", "return"])
def test_reject_and_return_need_a_comment(
    client: FlaskClient, admin: dict[str, str], action: str
) -> None:
    rid = submit(client, admin, discount_pct="18").json["id"]
    missing = act(client, admin, rid, action, approver_id="sd.patel")
    assert (missing.status_code, missing.json["errors"]) == (
        422,
        {"comment": ["Missing data for required field."]},
    )
    done = act(
        client, admin, rid, action, approver_id="sd.patel", comment="Try 15% with a 2-year term."
    )
    assert done.json["state"] == {"reject": "rejected", "return": "returned"}[action]
    assert done.json["steps"][0]["comment"] == "Try 15% with a 2-year term."


def revise(
    client: FlaskClient,
    headers: dict[str, str],
    rid: str,
    requested_by: str = "am.jones",
    **fields: Any,
) -> Any:
    return client.post(
        f"{BASE}/{rid}/revise",
        json={"requested_by": requested_by, "deal": deal(**fields)},
        headers=headers,
    )


def test_smart_reapproval_keeps_approvals_when_nothing_went_up(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    rid = submit(client, admin, discount_pct="18", list_amount="1000000").json["id"]
    act(client, admin, rid, "approve", approver_id="sd.patel")
    lower = revise(client, admin, rid, discount_pct="17", list_amount="1000000")
    assert steps(lower) == [
        ("sales_director", "sd.patel", "approved"),
        ("cfo", "cfo.chen", "pending"),
    ]
    higher = revise(client, admin, rid, discount_pct="19", list_amount="1000000")
    assert steps(higher) == [
        ("sales_director", "sd.patel", "pending"),
        ("cfo", "cfo.chen", "pending"),
    ]
    assert higher.json["version"] == 4


def test_new_tier_restarts_the_steps(client: FlaskClient, admin: dict[str, str]) -> None:
    rid = submit(client, admin, discount_pct="18").json["id"]
    act(client, admin, rid, "approve", approver_id="sd.patel")
    revised = revise(client, admin, rid, discount_pct="18", list_amount="1000000")
    assert steps(revised) == [
        ("sales_director", "sd.patel", "pending"),
        ("cfo", "cfo.chen", "pending"),
    ]


def test_revising_a_returned_request_reopens_it(client: FlaskClient, admin: dict[str, str]) -> None:
    rid = submit(client, admin, discount_pct="18").json["id"]
    act(client, admin, rid, "return", approver_id="sd.patel", comment="Too deep for this account.")
    reopened = revise(client, admin, rid, discount_pct="12")
    assert (reopened.json["state"], steps(reopened)) == (
        "pending",
        [("sales_manager", "sm.lee", "pending")],
    )
    within = revise(client, admin, rid, discount_pct="9")
    assert (within.json["state"], within.json["steps"]) == ("approved", [])


def test_revision_cannot_change_the_owner(client: FlaskClient, admin: dict[str, str]) -> None:
    rid = submit(client, admin, discount_pct="18").json["id"]
    response = revise(client, admin, rid, owner_id="am.kim", discount_pct="12")
    assert response.json["errors"] == {
        "deal.owner_id": ["Must stay 'am.jones': ownership never changes."]
    }


def test_withdraw_is_final_and_owner_only(client: FlaskClient, admin: dict[str, str]) -> None:
    rid = submit(client, admin, discount_pct="18").json["id"]
    missing = act(client, admin, rid, "withdraw", requested_by="am.jones")
    assert missing.json["errors"] == {"reason": ["Missing data for required field."]}
    assert (
        act(client, admin, rid, "withdraw", requested_by="sd.patel", reason="no").status_code == 403
    )
    done = act(
        client,
        admin,
        rid,
        "withdraw",
        requested_by="am.jones",
        reason="Customer chose a competitor.",
    )
    assert done.json["state"] == "withdrawn"
    assert act(client, admin, rid, "approve", approver_id="sd.patel").status_code == 409
    assert revise(client, admin, rid, discount_pct="5").status_code == 409
    assert submit(client, admin, discount_pct="5").status_code == 201  # the deal may start again


def test_second_open_request_for_a_deal_is_409(client: FlaskClient, admin: dict[str, str]) -> None:
    assert submit(client, admin, discount_pct="18").status_code == 201
    second = submit(client, admin, discount_pct="12")
    assert (second.status_code, second.json["detail"]) == (
        409,
        "Deal 'Q-1' already has an open approval request.",
    )


def test_if_match(client: FlaskClient, admin: dict[str, str]) -> None:
    rid = submit(client, admin, discount_pct="18").json["id"]
    stale = client.post(
        f"{BASE}/{rid}/approve",
        json={"approver_id": "sd.patel"},
        headers={**admin, "If-Match": '"7"'},
    )
    assert (stale.status_code, stale.json["detail"]) == (
        412,
        "The request is at version 1, not 7; reload it and retry.",
    )
    fresh = client.post(
        f"{BASE}/{rid}/approve",
        json={"approver_id": "sd.patel"},
        headers={**admin, "If-Match": "1"},
    )
    assert (fresh.status_code, fresh.json["version"]) == (200, 2)


def test_idempotency_key(client: FlaskClient, admin: dict[str, str], db: str) -> None:
    headers = {**admin, "Idempotency-Key": "quote-save-1"}
    body = {"deal": deal(discount_pct="18"), "requested_by": "am.jones"}
    first = client.post(BASE, json=body, headers=headers)
    act(client, admin, first.json["id"], "approve", approver_id="sd.patel")
    replay = client.post(BASE, json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.get_data() == first.get_data()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["ETag"] == first.headers["ETag"]
    assert "Idempotent-Replayed" not in first.headers
    other = client.post(BASE, json={**body, "requested_by": "am.kim"}, headers=headers)
    assert (other.status_code, other.json["errors"]) == (
        422,
        {"Idempotency-Key": ["Already used with a different body or endpoint."]},
    )
    assert event_types(db, first.json["id"]) == ["request.submitted", "request.approve"]


def test_failed_request_does_not_burn_the_key(client: FlaskClient, admin: dict[str, str]) -> None:
    headers = {**admin, "Idempotency-Key": "k2"}
    bad = client.post(
        BASE, json={"deal": deal(currency="EUR"), "requested_by": "am.jones"}, headers=headers
    )
    assert bad.status_code == 422
    retry = client.post(
        BASE, json={"deal": deal(currency="EUR"), "requested_by": "am.jones"}, headers=headers
    )
    assert retry.status_code == 422 and "Idempotent-Replayed" not in retry.headers


def test_twenty_racing_approvals_one_wins(app: Flask, admin: dict[str, str], db: str) -> None:
    rid = submit(app.test_client(), admin, discount_pct="18").json["id"]
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def race() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(act(client, admin, rid, "approve", approver_id="sd.patel").status_code)

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200] + [409] * 19
    assert event_types(db, rid) == ["request.submitted", "request.approve"]
    verdict = app.test_client().get("/v1/audit/verify", headers=admin).json
    assert verdict["ok"] is True


def test_inbox_shows_what_an_approver_may_act_on(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    rid = submit(client, admin, discount_pct="18", list_amount="1000000").json["id"]
    submit(
        client, admin, requested_by="am.kim", owner_id="am.kim", deal_id="Q-2", discount_pct="12"
    )

    def inbox(who: str) -> list[str]:
        page = client.get(f"{BASE}?approver_id={who}", headers=admin).json
        return [r["deal_id"] for r in page["items"]]

    assert (inbox("sd.patel"), inbox("sm.lee"), inbox("cfo.chen")) == (["Q-1"], ["Q-2"], [])
    client.put(
        "/v1/people/sd.patel",
        headers=admin,
        json={
            "name": "Patel",
            "tier": "sales_director",
            "manager_id": "vp.garcia",
            "delegate": {"id": "vp.west", "from": "2026-01-01", "to": "2026-12-31"},
        },
    )
    assert inbox("vp.west") == ["Q-1"]
    assert (
        act(client, admin, rid, "approve", approver_id="vp.west").json["steps"][0]["acted_by"]
        == "vp.west"
    )
    assert (inbox("sd.patel"), inbox("cfo.chen")) == ([], ["Q-1"])
    by_state = client.get(f"{BASE}?state=pending&owner_id=am.kim", headers=admin).json
    assert [r["deal_id"] for r in by_state["items"]] == ["Q-2"]


def test_list_pages(client: FlaskClient, admin: dict[str, str]) -> None:
    for i in range(5):
        submit(client, admin, deal_id=f"D-{i}", discount_pct="5")
    seen, cursor = [], None
    while True:
        page = client.get(
            f"{BASE}?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=admin
        ).json
        seen += [r["deal_id"] for r in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [f"D-{i}" for i in range(5)]


def test_submission_around_the_owner(
    client: FlaskClient, admin: dict[str, str], make_key: Callable[..., str], db: str
) -> None:
    missing = submit(client, admin, requested_by="vp.west", discount_pct="25")
    assert missing.json["errors"] == {
        "reason_code": ["Required when someone other than the owner submits."],
        "justification": ["Required when someone other than the owner submits."],
    }
    body = {
        "deal": deal(discount_pct="25"),
        "requested_by": "vp.west",
        "reason_code": "competitive_displacement",
        "justification": "Competitor offered 25% on a 3-year term.",
    }
    requests_only = {"Authorization": f"Bearer {make_key('requests', name='cpq')}"}
    refused = client.post(BASE, json=body, headers=requests_only)
    assert (refused.status_code, refused.json["detail"]) == (
        403,
        "Acting around the deal's owner needs an API key with the `overrides` scope.",
    )
    done = client.post(BASE, json=body, headers=admin)
    assert done.status_code == 201
    assert done.json["owner"]["id"] == "am.jones" and done.json["decision"]["flags"] == [
        "requester_not_owner"
    ]
    assert event_types(db, done.json["id"]) == ["request.submitted"]
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT executive_id, categories, terms_before, terms_after->>'discount_pct',"
            " event_hash FROM overrides WHERE request_id = %s",
            (done.json["id"],),
        ).fetchall()
        chained = conn.execute(
            "SELECT hash FROM audit_events WHERE type = 'override.created'"
        ).fetchall()
    assert len(rows) == 1
    executive, categories, before, after, event_hash = rows[0]
    assert (executive, categories, after) == ("vp.west", ["bypassed_owner", "out_of_chain"], "25")
    assert before == {"discount_pct": None, "rebate_pct": None, "payment_terms_days": None}
    assert [event_hash] == [h[0] for h in chained]
