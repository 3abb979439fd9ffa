"""Overrides over HTTP: categories, money, refusals, filters, pagination, CSV, reviews,
acknowledgement, summary. Real PostgreSQL throughout."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
WHY = "Competitor matched our price at quarter end."


def submit(client: FlaskClient, headers: dict[str, str], **fields: Any) -> str:
    response = client.post(
        "/v1/approval-requests",
        headers=headers,
        json={"deal": deal(**fields), "requested_by": fields.get("owner_id", "am.jones")},
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def override(
    client: FlaskClient,
    headers: dict[str, str],
    executive: str,
    terms: dict[str, Any],
    request_id: str | None = None,
    bare: dict[str, Any] | None = None,
    **extra: Any,
) -> Any:
    body: dict[str, Any] = {
        "executive_id": executive,
        "terms": terms,
        "reason_code": "competitive_displacement",
        "justification": WHY,
        **extra,
    }
    if request_id:
        body["request_id"] = request_id
    if bare is not None:
        body["deal"] = bare
    return client.post("/v1/overrides", json=body, headers=headers)


def test_in_chain_vp_beyond_own_authority_and_the_owners_ask(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    rid = submit(client, admin, discount_pct="18")
    response = override(client, admin, "vp.garcia", {"discount_pct": "35"}, request_id=rid)
    assert response.status_code == 201
    body = response.json
    assert body["categories"] == ["beyond_executive_authority", "bypassed_owner"]
    assert body["excess"] == [
        {"lever": "discount_pct", "value": "35", "approvable_max": "30", "excess": "5"}
    ]
    assert body["excess_value"] == "12500.00"
    assert body["terms_before"] == {
        "discount_pct": "18",
        "rebate_pct": None,
        "payment_terms_days": None,
    }
    assert body["terms_after"] == {
        "discount_pct": "35",
        "rebate_pct": None,
        "payment_terms_days": None,
    }
    assert (body["owner"], body["executive"]) == (
        {"id": "am.jones", "tier": "account_manager"},
        {"id": "vp.garcia", "tier": "vp_sales"},
    )
    assert (body["review_status"], body["owner_acknowledged"], body["request_id"]) == (
        "pending",
        False,
        rid,
    )
    assert body["policy"]["version"] == "2026.11.0"
    assert body["period"]["fiscal_quarter"] == 2 and body["period"]["is_quarter_end"] is False
    request = client.get(f"/v1/approval-requests/{rid}", headers=admin).json
    assert (request["state"], request["deal"]["discount_pct"], request["owner"]["id"]) == (
        "overridden",
        "35",
        "am.jones",
    )
    with psycopg.connect(db) as conn:
        event = conn.execute(
            "SELECT hash, actor, payload->>'excess_value' FROM audit_events "
            "WHERE type = 'override.created'"
        ).fetchone()
    assert event == (body["event_hash"], "vp.garcia", "12500.00")


def test_out_of_chain_executive_granting_the_ask(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    rid = submit(client, admin, discount_pct="25")
    response = override(client, admin, "vp.west", {"discount_pct": "25"}, request_id=rid)
    assert (
        response.json["categories"],
        response.json["excess"],
        response.json["excess_value"],
    ) == (["out_of_chain"], [], "0.00")


def test_an_approval_is_not_an_override(client: FlaskClient, admin: dict[str, str]) -> None:
    rid = submit(client, admin, discount_pct="25")
    response = override(client, admin, "vp.garcia", {"discount_pct": "25"}, request_id=rid)
    assert response.status_code == 422
    assert "that is an approval, not an override" in response.json["detail"]
    assert client.get(f"/v1/approval-requests/{rid}", headers=admin).json["state"] == "pending"


def test_bare_deal_beyond_policy(client: FlaskClient, admin: dict[str, str]) -> None:
    response = override(
        client,
        admin,
        "ceo.morgan",
        {"discount_pct": "55"},
        bare=deal(deal_id="B-1", discount_pct="20"),
    )
    body = response.json
    assert (response.status_code, body["request_id"]) == (201, None)
    assert body["categories"] == ["beyond_executive_authority", "beyond_policy", "bypassed_owner"]
    assert body["terms_before"]["discount_pct"] == "20"
    assert body["excess"][0] == {
        "lever": "discount_pct",
        "value": "55",
        "approvable_max": "50",
        "excess": "5",
    }


@pytest.mark.parametrize(
    ("amount", "terms", "value"),
    [
        ("100", {"discount_pct": "30.005"}, "0.01"),
        ("123456.78", {"discount_pct": "30.005"}, "6.17"),
        (
            "200000",
            {"discount_pct": "32", "rebate_pct": "6", "payment_terms_days": "30"},
            "6000.00",
        ),
    ],
    ids=["half-up-to-a-cent", "fractional", "sum-of-pct-levers-computed-excluded"],
)
def test_excess_value_money(
    client: FlaskClient, admin: dict[str, str], amount: str, terms: dict[str, str], value: str
) -> None:
    response = override(
        client, admin, "vp.garcia", terms, bare=deal(deal_id="M", list_amount=amount)
    )
    assert response.json["excess_value"] == value


def test_excess_lists_computed_levers(client: FlaskClient, admin: dict[str, str]) -> None:
    terms = {"discount_pct": "32", "rebate_pct": "6", "payment_terms_days": "30"}
    body = override(client, admin, "vp.garcia", terms, bare=deal(deal_id="M")).json
    assert [(e["lever"], e["excess"]) for e in body["excess"]] == [
        ("discount_pct", "2"),
        ("rebate_pct", "1"),
        ("effective_discount_pct", "3"),
    ]
    assert "beyond_policy" in body["categories"]  # rebate 6 is above every tier's 5


def test_refusals(client: FlaskClient, admin: dict[str, str]) -> None:
    over_max = override(client, admin, "ceo.morgan", {"discount_pct": "61"}, bare=deal())
    assert (over_max.status_code, list(over_max.json["errors"])) == (422, ["terms.discount_pct"])
    junior = override(client, admin, "sd.patel", {"discount_pct": "35"}, bare=deal())
    assert (junior.status_code, junior.json["detail"]) == (
        403,
        "Only vp_sales and above may override; sd.patel is sales_director.",
    )
    bad_reason = override(
        client, admin, "vp.garcia", {"discount_pct": "35"}, bare=deal(), reason_code="because"
    )
    assert list(bad_reason.json["errors"]) == ["reason_code"]
    short = override(
        client, admin, "vp.garcia", {"discount_pct": "35"}, bare=deal(), justification="too short"
    )
    assert short.json["errors"] == {
        "justification": ["Must be 20 to 10000 characters: say why, for the auditors."]
    }
    both = override(
        client,
        admin,
        "vp.garcia",
        {"discount_pct": "35"},
        bare=deal(),
        request_id="00000000-0000-0000-0000-000000000000",
    )
    assert both.json["errors"] == {"request_id": ["Give either request_id or deal (exactly one)."]}
    unknown = override(
        client,
        admin,
        "vp.garcia",
        {"discount_pct": "35"},
        request_id="00000000-0000-0000-0000-000000000000",
    )
    assert unknown.status_code == 404
    lever = override(client, admin, "vp.garcia", {"free_months": "2"}, bare=deal())
    assert lever.json["errors"] == {
        "terms.free_months": ["Not a deal-field lever of the active policy."]
    }
    negative = override(client, admin, "vp.garcia", {"discount_pct": "-1"}, bare=deal())
    assert negative.json["errors"] == {"terms.discount_pct.value": ["Must be at least 0."]}


def test_withdrawn_request_cannot_be_overridden(client: FlaskClient, admin: dict[str, str]) -> None:
    rid = submit(client, admin, discount_pct="18")
    client.post(
        f"/v1/approval-requests/{rid}/withdraw",
        headers=admin,
        json={"requested_by": "am.jones", "reason": "Customer said no."},
    )
    response = override(client, admin, "vp.garcia", {"discount_pct": "35"}, request_id=rid)
    assert (response.status_code, response.json["detail"]) == (
        409,
        "The request was withdrawn (the customer said no); it cannot be overridden.",
    )


def test_period_end_is_recorded(client: FlaskClient, admin: dict[str, str], app: Flask) -> None:
    runtime = app.extensions["dealdesk"]
    runtime.settings = dataclasses.replace(runtime.settings, today=date(2027, 1, 25))
    body = override(client, admin, "vp.garcia", {"discount_pct": "35"}, bare=deal()).json
    assert (
        body["period"]["fiscal_year"],
        body["period"]["fiscal_quarter"],
        body["period"]["is_year_end"],
    ) == (2027, 4, True)


def make_many(client: FlaskClient, admin: dict[str, str], app: Flask) -> list[dict[str, Any]]:
    runtime = app.extensions["dealdesk"]
    made = []
    plan = [
        ("vp.garcia", "am.jones", "35", date(2026, 6, 10)),
        ("vp.west", "am.jones", "35", date(2026, 7, 25)),
        ("ceo.morgan", "am.kim", "55", date(2026, 6, 10)),
        ("vp.garcia", "am.kim", "31", date(2027, 1, 25)),
        ("cfo.chen", "am.jones", "51", date(2026, 10, 20)),
    ]
    for i, (executive, owner, discount, today) in enumerate(plan):
        runtime.settings = dataclasses.replace(runtime.settings, today=today)
        response = override(
            client,
            admin,
            executive,
            {"discount_pct": discount},
            bare=deal(deal_id=f"F-{i}", owner_id=owner),
        )
        assert response.status_code == 201, response.json
        made.append(response.json)
    return made


def listing(client: FlaskClient, admin: dict[str, str], query: str) -> list[str]:
    ids, cursor = [], None
    while True:
        url = f"/v1/overrides?limit=2&{query}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=admin).json
        ids += [o["deal_id"] for o in page["items"]]
        if not (cursor := page["next_cursor"]):
            return ids


def test_every_filter(client: FlaskClient, admin: dict[str, str], app: Flask) -> None:
    make_many(client, admin, app)
    today = date.today().isoformat()
    cases = {
        "": ["F-0", "F-1", "F-2", "F-3", "F-4"],
        "executive_id=vp.garcia": ["F-0", "F-3"],
        "owner_id=am.kim": ["F-2", "F-3"],
        "category=beyond_policy": ["F-2", "F-4"],
        "category=out_of_chain": ["F-1", "F-4"],
        "fiscal_year=2027&fiscal_quarter=2": ["F-0", "F-1", "F-2"],
        "fiscal_quarter=4": ["F-3"],
        "period_end=true": ["F-1", "F-3", "F-4"],
        "period_end=false": ["F-0", "F-2"],
        "review_status=pending": ["F-0", "F-1", "F-2", "F-3", "F-4"],
        "review_status=accepted": [],
        f"from={today}&to={today}": ["F-0", "F-1", "F-2", "F-3", "F-4"],
        "to=2000-01-01": [],
        "executive_id=vp.garcia&period_end=true": ["F-3"],
        "owner_id=am.jones&category=out_of_chain&fiscal_quarter=3": ["F-4"],
    }
    for query, expected in cases.items():
        assert listing(client, admin, query) == expected, query


def test_pages_stay_exact_while_overrides_arrive(
    client: FlaskClient, admin: dict[str, str], app: Flask
) -> None:
    make_many(client, admin, app)
    first = client.get("/v1/overrides?limit=2", headers=admin).json
    for i in range(3):
        override(client, admin, "vp.garcia", {"discount_pct": "33"}, bare=deal(deal_id=f"N-{i}"))
    seen = [o["deal_id"] for o in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(f"/v1/overrides?limit=2&cursor={cursor}", headers=admin).json
        seen += [o["deal_id"] for o in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ["F-0", "F-1", "F-2", "F-3", "F-4", "N-0", "N-1", "N-2"]


def test_csv_matches_the_json(client: FlaskClient, admin: dict[str, str], app: Flask) -> None:
    made = make_many(client, admin, app)
    response = client.get(
        "/v1/overrides?executive_id=vp.garcia", headers={**admin, "Accept": "text/csv"}
    )
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == (
        "id,created_at,deal_id,request_id,owner_id,executive_id,executive_tier,categories,reason_code,"
        "excess_value,currency,fiscal_year,fiscal_quarter,period_end,review_status,policy_version,"
        "policy_sha256,justification"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = [m for m in made if m["executive"]["id"] == "vp.garcia"]
    assert [r["id"] for r in rows] == [m["id"] for m in expected]
    first, source = rows[0], expected[0]
    assert first == {
        "id": source["id"],
        "created_at": source["created_at"],
        "deal_id": "F-0",
        "request_id": "",
        "owner_id": "am.jones",
        "executive_id": "vp.garcia",
        "executive_tier": "vp_sales",
        "categories": "beyond_executive_authority;bypassed_owner",
        "reason_code": "competitive_displacement",
        "excess_value": "12500.00",
        "currency": "USD",
        "fiscal_year": "2027",
        "fiscal_quarter": "2",
        "period_end": "false",
        "review_status": "pending",
        "policy_version": "2026.11.0",
        "policy_sha256": source["policy"]["sha256"],
        "justification": WHY,
    }


def test_reviews_and_segregation_of_duties(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    oid = override(client, admin, "vp.garcia", {"discount_pct": "35"}, bare=deal()).json["id"]
    own = client.post(
        f"/v1/overrides/{oid}/reviews",
        headers=admin,
        json={"reviewer_id": "vp.garcia", "status": "accepted", "note": "fine"},
    )
    assert (own.status_code, own.json["detail"]) == (
        403,
        "The executive who made an override can never review it.",
    )
    first = client.post(
        f"/v1/overrides/{oid}/reviews",
        headers=admin,
        json={"reviewer_id": "cfo.chen", "status": "questioned", "note": "Why 35?"},
    )
    assert (first.status_code, first.json["status"], first.json["reviewer_id"]) == (
        201,
        "questioned",
        "cfo.chen",
    )
    client.post(
        f"/v1/overrides/{oid}/reviews",
        headers=admin,
        json={"reviewer_id": "cfo.chen", "status": "clawback", "note": "Recover the 5%."},
    )
    body = client.get(f"/v1/overrides/{oid}", headers=admin).json
    assert body["review_status"] == "clawback"
    assert [(r["status"], r["note"]) for r in body["reviews"]] == [
        ("questioned", "Why 35?"),
        ("clawback", "Recover the 5%."),
    ]
    bad = client.post(
        f"/v1/overrides/{oid}/reviews",
        headers=admin,
        json={"reviewer_id": "cfo.chen", "status": "pending", "note": "x"},
    )
    assert list(bad.json["errors"]) == ["status"]


def test_acknowledge_is_for_the_owner(client: FlaskClient, admin: dict[str, str]) -> None:
    oid = override(client, admin, "vp.garcia", {"discount_pct": "35"}, bare=deal()).json["id"]
    other = client.post(
        f"/v1/overrides/{oid}/acknowledge", json={"owner_id": "am.kim"}, headers=admin
    )
    assert other.status_code == 403
    done = client.post(
        f"/v1/overrides/{oid}/acknowledge", json={"owner_id": "am.jones"}, headers=admin
    )
    assert (done.status_code, done.json["owner_acknowledged"]) == (200, True)


def test_summary(client: FlaskClient, admin: dict[str, str], app: Flask) -> None:
    make_many(client, admin, app)
    by_exec = client.get("/v1/overrides/summary?group_by=executive", headers=admin).json["items"]
    assert by_exec == [
        {
            "key": "ceo.morgan",
            "count": 1,
            "period_end_count": 0,
            "excess_value": "12500.00",
            "pending_review": 1,
        },
        {
            "key": "cfo.chen",
            "count": 1,
            "period_end_count": 1,
            "excess_value": "27500.00",
            "pending_review": 1,
        },
        {
            "key": "vp.garcia",
            "count": 2,
            "period_end_count": 1,
            "excess_value": "15000.00",
            "pending_review": 2,
        },
        {
            "key": "vp.west",
            "count": 1,
            "period_end_count": 1,
            "excess_value": "12500.00",
            "pending_review": 1,
        },
    ]
    by_quarter = client.get("/v1/overrides/summary?group_by=fiscal_quarter", headers=admin).json[
        "items"
    ]
    assert [(r["key"], r["count"]) for r in by_quarter] == [
        ("FY2027-Q2", 3),
        ("FY2027-Q3", 1),
        ("FY2027-Q4", 1),
    ]
    by_owner = client.get("/v1/overrides/summary?group_by=owner", headers=admin).json["items"]
    assert [(r["key"], r["count"]) for r in by_owner] == [("am.jones", 3), ("am.kim", 2)]
    assert client.get("/v1/overrides/summary?group_by=region", headers=admin).status_code == 422


def test_csv_streams_rows_in_chunks_not_one_write_per_row(
    client: FlaskClient, admin: dict[str, str], app: Flask
) -> None:
    made = make_many(client, admin, app)
    response = client.get("/v1/overrides", headers={**admin, "Accept": "text/csv"}, buffered=False)
    chunks = list(response.response)
    assert len(chunks) == 2  # the header, then every row together (well under 64 KB)
    assert len(b"".join(chunks).decode().splitlines()) == len(made) + 1


def test_cli_export_matches_the_api_csv(
    client: FlaskClient,
    admin: dict[str, str],
    app: Flask,
    db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli import main

    make_many(client, admin, app)
    api_csv = client.get("/v1/overrides", headers={**admin, "Accept": "text/csv"}).get_data(
        as_text=True
    )
    monkeypatch.setenv("DATABASE_URL", db)
    today = date.today().isoformat()
    assert main(["audit", "export", "--from", today, "--to", today]) == 0
    assert capsys.readouterr().out == api_csv
    assert main(["audit", "export", "--to", "2000-01-01"]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # the header alone


def test_a_second_override_compares_with_the_owners_ask(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    rid = submit(client, admin, discount_pct="25")
    first = override(client, admin, "vp.garcia", {"discount_pct": "35"}, request_id=rid).json
    assert first["categories"] == ["beyond_executive_authority", "bypassed_owner"]
    # back to what the owner asked, by an out-of-chain VP: not a bypass of the owner
    second = override(client, admin, "vp.west", {"discount_pct": "25"}, request_id=rid).json
    assert second["categories"] == ["out_of_chain"]
    assert second["terms_before"]["discount_pct"] == "35"


def test_override_of_a_request_submitted_around_the_owner_bypasses_them(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    body = {
        "deal": deal(discount_pct="25"),
        "requested_by": "vp.garcia",
        "reason_code": "strategic_account",
        "justification": "Strategic logo, CEO relationship.",
    }
    rid = client.post("/v1/approval-requests", json=body, headers=admin).json["id"]
    response = override(client, admin, "vp.west", {"discount_pct": "25"}, request_id=rid)
    assert response.json["categories"] == ["bypassed_owner", "out_of_chain"]


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/v1/overrides?from=2026-07-01&to=2026-06-30", "*/*"),
        ("/v1/overrides?from=2026-07-01&to=2026-06-30", "text/csv"),
        ("/v1/overrides/summary?group_by=owner&from=2026-07-01&to=2026-06-30", "*/*"),
    ],
    ids=["list", "csv export", "summary"],
)
def test_from_after_to_names_both_fields(
    client: FlaskClient, admin: dict[str, str], path: str, accept: str
) -> None:
    """A reversed window is a mistake, not an empty period: 422 naming from and to, as the
    reports say it."""
    response = client.get(path, headers={**admin, "Accept": accept})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"] == {
        "from": ["Must be on or before to (2026-06-30)."],
        "to": ["Is before from (2026-07-01)."],
    }
