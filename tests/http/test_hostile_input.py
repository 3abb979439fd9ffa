"""Hostile input: stored verbatim when it is data, refused precisely when it cannot be."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")

VERBATIM = [
    "Robert'); DROP TABLE people;--",
    "' OR '1'='1",
    "ΔЖ中文 עברית 🚀 e\u0301 \u200b zero-width",
    "%s %(x)s {0} $1 \\x00-not-a-nul",
    "a" * 512,
]


@pytest.mark.parametrize(
    "text", VERBATIM, ids=["drop-table", "or-1-1", "unicode", "format-strings", "long"]
)
def test_strings_are_stored_and_returned_verbatim(
    client: FlaskClient, admin: dict[str, str], text: str
) -> None:
    put = client.put("/v1/people/odd.one", json={"name": text[:256], "tier": "cfo"}, headers=admin)
    assert put.status_code == 201
    assert client.get("/v1/people/odd.one", headers=admin).json["name"] == text[:256]
    submitted = client.post(
        "/v1/approval-requests",
        headers=admin,
        json={
            "deal": deal(
                deal_id=text[:128], account={"name": text[:512]}, attributes={text[:50]: text}
            ),
            "requested_by": "am.jones",
        },
    )
    assert submitted.status_code == 201
    body = submitted.json
    assert (body["deal_id"], body["deal"]["account"]["name"], body["deal"]["attributes"]) == (
        text[:128],
        text[:512],
        {text[:50]: text},
    )
    listed = client.get(
        "/v1/approval-requests", query_string={"deal_id": text[:128]}, headers=admin
    ).json
    assert [r["id"] for r in listed["items"]] == [body["id"]]


NUMBERS = [
    ("huge", "1e400", "deal.list_amount", "Must be less than 1e28 in magnitude."),
    ("1e28", "1e28", "deal.list_amount", "Must be less than 1e28 in magnitude."),
    (
        "29 digits",
        "1.0000000000000000000000000001",
        "deal.list_amount",
        "Must have at most 28 significant digits.",
    ),
    (
        "29 digits as a JSON number",
        Decimal("12345678901234567890.123456789"),
        "deal.list_amount",
        "Must have at most 28 significant digits.",
    ),
    ("tiny", "1e-29", "deal.list_amount", "Must have at most 28 decimal places."),
    (
        "infinity text",
        "Infinity",
        "deal.list_amount",
        "Must be a number or a numeric string (finite, not NaN or Infinity).",
    ),
    (
        "nan text",
        "NaN",
        "deal.list_amount",
        "Must be a number or a numeric string (finite, not NaN or Infinity).",
    ),
    ("negative", "-0.01", "deal.list_amount", "Must be at least 0."),
    (
        "bool",
        True,
        "deal.list_amount",
        "Must be a number or a numeric string (finite, not NaN or Infinity).",
    ),
]


@pytest.mark.parametrize(
    ("what", "value", "field", "message"), NUMBERS, ids=[n[0] for n in NUMBERS]
)
def test_bad_numbers_are_precise_422s(
    client: FlaskClient, admin: dict[str, str], what: str, value: Any, field: str, message: str
) -> None:
    body = {"deal": deal(list_amount=value), "requested_by": "am.jones"}
    response = client.post(
        "/v1/evaluations", data=json_text(body), content_type="application/json", headers=admin
    )
    assert (response.status_code, response.json["errors"]) == (422, {field: [message]})


def json_text(body: Any) -> str:
    """JSON with every Decimal written as a JSON number, digit for digit."""
    return json.dumps(body, default=lambda d: f"@@{d}@@").replace('"@@', "").replace('@@"', "")


def test_negative_percentages_and_currency(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/evaluations",
        headers=admin,
        json={"deal": deal(discount_pct="-5", rebate_pct=-1), "requested_by": "am.jones"},
    )
    assert response.json["errors"] == {
        "deal.discount_pct": ["Must be at least 0."],
        "deal.rebate_pct": ["Must be at least 0."],
    }
    wrong = client.post(
        "/v1/evaluations",
        headers=admin,
        json={"deal": deal(currency="usd"), "requested_by": "am.jones"},
    )
    assert wrong.json["errors"] == {"deal.currency": ["Must be a 3-letter ISO 4217 code."]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nul\u0000inside", "Must not contain NUL (\\u0000) characters."),
        ("\ud800lone", "Must be valid Unicode (no lone surrogates)."),
    ],
    ids=["nul", "lone-surrogate"],
)
def test_unstorable_strings_are_refused_with_their_path(
    client: FlaskClient, admin: dict[str, str], text: str, message: str
) -> None:
    raw = json.dumps({"deal": deal(account={"name": text}), "requested_by": "am.jones"})
    response = client.post(
        "/v1/evaluations", data=raw, content_type="application/json", headers=admin
    )
    assert (response.status_code, response.json["errors"]) == (
        422,
        {"deal.account.name": [message]},
    )


@pytest.mark.parametrize(
    "query",
    [
        "/v1/audit/events?after=99999999999999999999",
        "/v1/overrides?cursor=" + base64.urlsafe_b64encode(b'["1; DROP"]').decode(),
        "/v1/overrides?cursor=" + base64.urlsafe_b64encode(b"[99999999999999999999]").decode(),
        "/v1/people?cursor=" + base64.urlsafe_b64encode(b"[[1,2]]").decode(),
        "/v1/approval-requests?cursor=" + base64.urlsafe_b64encode(b'["x", "y"]').decode(),
    ],
    ids=["after-overflow", "cursor-text", "cursor-overflow", "cursor-list", "cursor-garbage"],
)
def test_out_of_range_parameters_are_422_not_500(
    client: FlaskClient, admin: dict[str, str], query: str
) -> None:
    response = client.get(query, headers=admin)
    assert response.status_code == 422
    assert list(response.json["errors"]) in (["after"], ["cursor"])


def test_deep_nesting_and_duplicate_keys(client: FlaskClient, admin: dict[str, str]) -> None:
    deep = '{"deal": {"attributes": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}}"
    nested = client.post(
        "/v1/evaluations", data=deep, content_type="application/json", headers=admin
    )
    assert (nested.status_code, nested.json["detail"]) == (
        400,
        "The JSON body is nested deeper than 32.",
    )
    dup = client.post(
        "/v1/evaluations",
        data='{"deal": {"deal_id": "a", "deal_id": "b"}}',
        content_type="application/json",
        headers=admin,
    )
    assert dup.status_code == 400 and "duplicate key 'deal_id'" in dup.json["detail"]
