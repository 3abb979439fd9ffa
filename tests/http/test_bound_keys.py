"""People-bound keys (DESIGN 10): a key bound to a person may act as no one else (403, at the
"this person may not do this" step); unbound keys act for whoever they name, as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.service.keys import issue_key
from api.storage.database import transaction
from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
WHY = "Competitor matched our price at quarter end."
SCOPES = ["evaluate", "requests", "approvals", "overrides", "audit:read", "audit:review"]


@pytest.fixture()
def bound(pool: ConnectionPool) -> Callable[[str], dict[str, str]]:
    made: dict[str, dict[str, str]] = {}

    def make(person: str) -> dict[str, str]:
        if person not in made:
            with transaction(pool) as conn:
                key, row = issue_key(conn, f"bound-{person}", SCOPES, "test", person)
            assert row.person_id == person
            made[person] = {"Authorization": f"Bearer {key}"}
        return made[person]

    return make


def refusal(person: str, acting_as: str, field: str) -> dict[str, Any]:
    return {
        "status": 403,
        "detail": f"This API key is bound to {person!r}; it cannot act as {acting_as!r}.",
        "errors": {field: [f"Must be {person!r}, the person this API key is bound to."]},
    }


def problem(response: Any) -> dict[str, Any]:
    assert response.mimetype == "application/problem+json"
    return {k: response.json[k] for k in ("status", "detail", "errors")}


def submit(client: FlaskClient, headers: dict[str, str], **fields: Any) -> Any:
    return client.post(
        "/v1/approval-requests",
        headers=headers,
        json={"deal": deal(**fields), "requested_by": fields.get("owner_id", "am.jones")},
    )


def test_approve_as_someone_else_is_403_and_as_yourself_200(
    client: FlaskClient, admin: dict[str, str], bound: Callable[[str], dict[str, str]]
) -> None:
    rid = submit(client, admin, discount_pct="12").json["id"]  # needs sm.lee
    path = f"/v1/approval-requests/{rid}/approve"
    response = client.post(path, json={"approver_id": "sm.lee"}, headers=bound("sd.patel"))
    assert response.status_code == 403
    assert problem(response) == refusal("sd.patel", "sm.lee", "approver_id")
    ok = client.post(path, json={"approver_id": "sm.lee"}, headers=bound("sm.lee"))
    assert ok.status_code == 200
    assert ok.json["state"] == "approved"
    again = client.post(path, json={"approver_id": "sm.lee"}, headers=bound("sd.patel"))
    assert again.status_code == 409  # no pending step: 409 whoever sends it


def test_submit_withdraw_and_revise_as_someone_else(
    client: FlaskClient, admin: dict[str, str], bound: Callable[[str], dict[str, str]]
) -> None:
    kim = bound("am.kim")
    refused = submit(client, kim, discount_pct="12")
    assert refused.status_code == 403
    assert problem(refused) == refusal("am.kim", "am.jones", "requested_by")
    unknown = client.post(
        "/v1/approval-requests",
        headers=kim,
        json={"deal": deal(), "requested_by": "nobody.here"},
    )
    assert unknown.status_code == 422  # the body's checks answer before the person check
    assert set(unknown.json["errors"]) == {"requested_by"}
    jones = bound("am.jones")
    created = submit(client, jones, discount_pct="12")
    assert created.status_code == 201
    rid = created.json["id"]
    revise = client.post(
        f"/v1/approval-requests/{rid}/revise",
        headers=kim,
        json={"requested_by": "am.jones", "deal": deal(discount_pct="11")},
    )
    assert revise.status_code == 403
    assert problem(revise) == refusal("am.kim", "am.jones", "requested_by")
    withdraw = client.post(
        f"/v1/approval-requests/{rid}/withdraw",
        headers=kim,
        json={"requested_by": "am.jones", "reason": "The customer said no."},
    )
    assert problem(withdraw) == refusal("am.kim", "am.jones", "requested_by")
    own = client.post(
        f"/v1/approval-requests/{rid}/withdraw",
        headers=jones,
        json={"requested_by": "am.jones", "reason": "The customer said no."},
    )
    assert own.status_code == 200
    assert own.json["state"] == "withdrawn"


def test_override_acknowledge_and_review_as_someone_else(
    client: FlaskClient, admin: dict[str, str], bound: Callable[[str], dict[str, str]]
) -> None:
    body = {
        "executive_id": "vp.garcia",
        "deal": deal(list_amount="200000.00"),
        "terms": {"discount_pct": "35"},
        "reason_code": "competitive_displacement",
        "justification": WHY,
    }
    west = client.post("/v1/overrides", json=body, headers=bound("vp.west"))
    assert west.status_code == 403
    assert problem(west) == refusal("vp.west", "vp.garcia", "executive_id")
    made = client.post("/v1/overrides", json=body, headers=bound("vp.garcia"))
    assert made.status_code == 201
    oid = made.json["id"]
    ack = client.post(
        f"/v1/overrides/{oid}/acknowledge", json={"owner_id": "am.jones"}, headers=bound("am.kim")
    )
    assert ack.status_code == 403
    assert problem(ack) == refusal("am.kim", "am.jones", "owner_id")
    review = {"reviewer_id": "sd.patel", "status": "accepted", "note": "Looks fine to me."}
    chen = bound("cfo.chen")
    other = client.post(f"/v1/overrides/{oid}/reviews", json=review, headers=chen)
    assert problem(other) == refusal("cfo.chen", "sd.patel", "reviewer_id")
    unknown = {**review, "reviewer_id": "nobody.here"}
    response = client.post(f"/v1/overrides/{oid}/reviews", json=unknown, headers=chen)
    assert response.status_code == 422
    mine = {**review, "reviewer_id": "cfo.chen"}
    assert client.post(f"/v1/overrides/{oid}/reviews", json=mine, headers=chen).status_code == 201
    own = {**review, "reviewer_id": "vp.garcia"}
    response = client.post(f"/v1/overrides/{oid}/reviews", json=own, headers=admin)
    assert response.status_code == 403  # segregation of duties holds for unbound keys too
    assert response.json["detail"] == "The executive who made an override can never review it."


def test_unbound_keys_act_for_whoever_they_name(
    client: FlaskClient, make_key: Callable[..., str]
) -> None:
    cpq = {"Authorization": f"Bearer {make_key(*SCOPES, name='cpq')}"}
    rid = submit(client, cpq, discount_pct="12").json["id"]
    response = client.post(
        f"/v1/approval-requests/{rid}/approve", json={"approver_id": "sm.lee"}, headers=cpq
    )
    assert response.status_code == 200


def test_cli_binds_a_key_to_a_person(
    client: FlaskClient,
    db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli import main

    monkeypatch.setenv("DATABASE_URL", db)
    args = ["keys", "create", "--name", "chen", "--scopes", "audit:read,audit:review"]
    assert main([*args, "--person", "cfo.chen"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "created key 'chen' with scopes audit:read,audit:review, bound to cfo.chen; "
        "it is shown only once:"
    )
    key = out[-1]
    assert main(["keys", "list"]) == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [row[:3] for row in listed if row[0] == "chen"] == [
        ["chen", "audit:read,audit:review", "cfo.chen"]
    ]
    assert main([*args[:3], "ghost", *args[4:], "--person", "nobody.here"]) != 0
    assert "No person 'nobody.here' in the registry." in capsys.readouterr().err
    response = client.get("/v1/overrides", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json == {"items": [], "next_cursor": None}


def test_evaluate_as_someone_else_is_403_after_the_422s(
    client: FlaskClient, bound: Callable[[str], dict[str, str]], db: str
) -> None:
    key = bound("am.kim")
    unknown = client.post(
        "/v1/evaluations", headers=key, json={"deal": deal(), "requested_by": "nobody"}
    )
    assert (unknown.status_code, list(unknown.json["errors"])) == (422, ["requested_by"])
    for attempt in range(2):  # the snapshot path, then again with the key cached
        refused = client.post(
            "/v1/evaluations", headers=key, json={"deal": deal(), "requested_by": "am.jones"}
        )
        assert (refused.status_code, problem(refused)) == (
            403,
            refusal("am.kim", "am.jones", "requested_by"),
        ), attempt
    own = client.post(
        "/v1/evaluations",
        headers=key,
        json={"deal": deal(owner_id="am.kim", discount_pct="8"), "requested_by": "am.kim"},
    )
    assert (own.status_code, own.json["outcome"]) == (200, "approved")
    with psycopg.connect(db) as conn:
        logged = conn.execute("SELECT requester_id FROM decisions").fetchall()
    assert logged == [("am.kim",)]  # the refused previews were never logged
