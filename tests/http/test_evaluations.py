"""POST /v1/evaluations over HTTP: the decision body, the decision log, and every error shape."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")


def evaluate(client: FlaskClient, headers: dict[str, str], body: Any, **kw: Any) -> Any:
    return client.post("/v1/evaluations", json=body, headers=headers, **kw)


def test_decision_is_returned_and_logged(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    body = {
        "deal": deal(
            discount_pct="18",
            rebate_pct=1.5,
            payment_terms_days=60,
            close_date="2026-12-29",
            customer_target_date="2027-02-15",
        ),
        "requested_by": "am.jones",
        "as_of": "2026-12-29",
    }
    response = evaluate(client, admin, body)
    assert response.status_code == 200
    decision = response.json
    assert decision["outcome"] == "needs_approval"
    assert decision["required_tiers"] == ["sales_director"]
    assert decision["flags"] == ["seller_timeline"]
    assert decision["period"] == {
        "fiscal_year": 2027,
        "fiscal_quarter": 4,
        "days_to_quarter_end": 33,
        "days_to_year_end": 33,
        "is_quarter_end": False,
        "is_year_end": False,
    }
    assert [f["value"] for f in decision["findings"]] == ["18", "1.5", "60", "20.3219178082"]
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT outcome, as_of::text, policy_sha256, input->'deal'->>'rebate_pct',"
            " output->>'decision_id' FROM decisions"
        ).fetchall()
    assert row == [
        (
            "needs_approval",
            "2026-12-29",
            decision["policy"]["sha256"],
            "1.5",
            decision["decision_id"],
        )
    ]


def test_numbers_stay_exact(client: FlaskClient, admin: dict[str, str]) -> None:
    response = evaluate(
        client, admin, {"deal": deal(discount_pct=10.000000001), "requested_by": "am.jones"}
    )
    finding = response.json["findings"][0]
    assert (finding["value"], finding["headroom"], finding["status"]) == (
        "10.000000001",
        "-0.000000001",
        "needs_approval",
    )


def test_pinned_today_moves_the_period(
    client: FlaskClient, admin: dict[str, str], app: Any
) -> None:
    import dataclasses
    from datetime import date

    runtime = app.extensions["dealdesk"]
    runtime.settings = dataclasses.replace(runtime.settings, today=date(2027, 1, 25))
    response = evaluate(
        client, admin, {"deal": deal(special_billing=True), "requested_by": "am.jones"}
    )
    assert response.json["outcome"] == "denied"
    assert response.json["period"]["days_to_year_end"] == 6


def test_requester_not_owner_and_delegate(client: FlaskClient, admin: dict[str, str]) -> None:
    other = evaluate(client, admin, {"deal": deal(), "requested_by": "am.kim"})
    assert other.json["flags"] == ["requester_not_owner"]
    client.put(
        "/v1/people/am.jones",
        headers=admin,
        json={
            "name": "Jones",
            "tier": "account_manager",
            "manager_id": "sm.lee",
            "delegate": {"id": "am.kim", "from": "2020-01-01", "to": "2099-12-31"},
        },
    )
    delegated = evaluate(client, admin, {"deal": deal(), "requested_by": "am.kim"})
    assert delegated.json["flags"] == []


def test_policy_lever_fields_are_accepted_other_unknown_fields_refused(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = evaluate(client, admin, {"deal": deal(free_months=2), "requested_by": "am.jones"})
    assert response.status_code == 422
    assert response.json["errors"] == {"deal.free_months": ["Unknown field."]}


ERRORS = [
    (
        "negative lever",
        {"deal": deal(discount_pct="-1"), "requested_by": "am.jones"},
        {"deal.discount_pct": ["Must be at least 0."]},
    ),
    (
        "missing required",
        {"deal": {"deal_id": "Q"}, "requested_by": "am.jones"},
        {
            "deal.owner_id": ["Missing data for required field."],
            "deal.currency": ["Missing data for required field."],
            "deal.list_amount": ["Missing data for required field."],
        },
    ),
    (
        "line field",
        {"deal": deal(lines=[{"sku": "A", "quantity": "lots"}]), "requested_by": "am.jones"},
        {
            "deal.lines.0.quantity": [
                "Must be a number or a numeric string (finite, not NaN or Infinity)."
            ]
        },
    ),
    (
        "oversized",
        {"deal": deal(list_amount="1e28"), "requested_by": "am.jones"},
        {"deal.list_amount": ["Must be less than 1e28 in magnitude."]},
    ),
    (
        "too many digits",
        {"deal": deal(discount_pct="10.000000000000000000000000001"), "requested_by": "am.jones"},
        {"deal.discount_pct": ["Must have at most 28 significant digits."]},
    ),
    (
        "bad date",
        {"deal": deal(close_date="29/12/2026"), "requested_by": "am.jones"},
        {"deal.close_date": ["Must be a date in YYYY-MM-DD form."]},
    ),
    (
        "unknown top-level",
        {"deal": deal(), "requested_by": "am.jones", "x": 1},
        {"x": ["Unknown field."]},
    ),
    (
        "unknown owner",
        {"deal": deal(owner_id="ghost"), "requested_by": "am.jones"},
        {"deal.owner_id": ["No person 'ghost' in the registry."]},
    ),
    (
        "unknown requester",
        {"deal": deal(), "requested_by": "ghost"},
        {"requested_by": ["No person 'ghost' in the registry."]},
    ),
    (
        "currency",
        {"deal": deal(currency="EUR"), "requested_by": "am.jones"},
        {"deal.currency": ["Must be USD, the policy's currency."]},
    ),
    ("not an object", ["a"], {"body": ["Must be a JSON object."]}),
]


@pytest.mark.parametrize(("what", "body", "errors"), ERRORS, ids=[e[0] for e in ERRORS])
def test_validation_errors_name_the_field(
    client: FlaskClient, admin: dict[str, str], what: str, body: Any, errors: dict[str, list[str]]
) -> None:
    response = evaluate(client, admin, body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"] == errors
    assert response.json["type"].startswith("urn:dealdesk:problem:")


RAW = [
    ("malformed", b"{bad", "application/json", 400, "The body is not valid JSON"),
    (
        "duplicate key",
        b'{"requested_by": "a", "requested_by": "b"}',
        "application/json",
        400,
        "duplicate key 'requested_by'",
    ),
    ("NaN", b'{"deal": {"list_amount": NaN}}', "application/json", 400, "NaN is not a JSON number"),
    ("deep", b"[" * 100 + b"]" * 100, "application/json", 400, "nested deeper than 32"),
    (
        "wrong type",
        b"deal=1",
        "application/x-www-form-urlencoded",
        415,
        "Content-Type: application/json",
    ),
    (
        "too large",
        b'{"x": "' + b"a" * (1024 * 1024) + b'"}',
        "application/json",
        413,
        "larger than 1 MiB",
    ),
]


@pytest.mark.parametrize(
    ("what", "data", "ctype", "status", "detail"), RAW, ids=[r[0] for r in RAW]
)
def test_body_errors(
    client: FlaskClient,
    admin: dict[str, str],
    what: str,
    data: bytes,
    ctype: str,
    status: int,
    detail: str,
) -> None:
    response = client.post("/v1/evaluations", data=data, content_type=ctype, headers=admin)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert detail in response.json["detail"]
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "raw",
    ['"10.00000000000000001"', "10.00000000000000001"],
    ids=["numeric-string", "json-number"],
)
def test_every_digit_is_kept_up_to_28(client: FlaskClient, admin: dict[str, str], raw: str) -> None:
    text = (
        '{"requested_by": "am.jones", "deal": {"deal_id": "Q-1", "owner_id": "am.jones", '
        '"currency": "USD", "list_amount": 123456789012.1234567891, '
        f'"discount_pct": {raw}}}}}'
    )
    response = client.post(
        "/v1/evaluations", data=text, content_type="application/json", headers=admin
    )
    assert response.status_code == 200, response.json
    finding = response.json["findings"][0]
    assert (response.json["outcome"], response.json["required_tiers"]) == (
        "needs_approval",
        ["sales_manager", "cfo"],  # the amount is over 1M: large-deal-cfo
    )
    assert finding == {
        "lever": "discount_pct",
        "value": "10.00000000000000001",
        "requester_ceiling": "10",
        "required_tier": "sales_manager",
        "status": "needs_approval",
        "headroom": "-0.00000000000000001",
        "reason": "10.00000000000000001 is above account_manager's ceiling of 10 and within "
        "sales_manager's 15.",
    }


def test_decision_ids_are_time_ordered_version_7_as_logged(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    ids = []
    for number in range(4):
        body = {"deal": deal(deal_id=f"Q-7{number}"), "requested_by": "am.jones"}
        response = evaluate(client, admin, body)
        assert response.status_code == 200, response.json
        ids.append(response.json["decision_id"])
        time.sleep(0.002)  # ids in one millisecond are in random order
    assert [uuid.UUID(i).version for i in ids] == [7, 7, 7, 7]
    with psycopg.connect(db) as conn:
        logged = conn.execute("SELECT id::text, deal_id FROM decisions ORDER BY id").fetchall()
    assert logged == [(i, f"Q-7{n}") for n, i in enumerate(ids)]
