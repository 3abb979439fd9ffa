"""Failures schemathesis found, kept as plain regression cases."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")

CASES = [
    # seed: special_billing 0 was accepted as false (marshmallow Boolean is lenient)
    (
        "/v1/evaluations",
        "POST",
        {"deal": deal(special_billing=0), "requested_by": "am.jones"},
        {"deal.special_billing": ["Must be true or false."]},
    ),
    (
        "/v1/evaluations",
        "POST",
        {"deal": deal(special_billing="yes"), "requested_by": "am.jones"},
        {"deal.special_billing": ["Must be true or false."]},
    ),
    (
        "/v1/people/x",
        "PUT",
        {"name": "X", "tier": "cfo", "active": 1},
        {"active": ["Must be true or false."]},
    ),
]


@pytest.mark.parametrize(
    ("path", "method", "body", "errors"), CASES, ids=["zero", "yes", "person-active-1"]
)
def test_found_by_fuzzing(
    client: FlaskClient,
    admin: dict[str, str],
    path: str,
    method: str,
    body: Any,
    errors: dict[str, list[str]],
) -> None:
    response = client.open(path, method=method, json=body, headers=admin)
    assert (response.status_code, response.json["errors"]) == (422, errors)


def test_a_nul_in_a_query_id_is_named_before_a_csv_export_streams(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.get(
        "/v1/overrides/export?category=out_of_chain&executive_id=%00", headers=admin
    )
    assert response.status_code == 422
    assert response.json["errors"] == {"executive_id": ["must not contain a NUL character"]}


@pytest.mark.parametrize("span", ["to=0001-01-01", "from=9999-12-31"])
def test_a_range_at_the_calendars_edge_is_answered_from_the_rows(
    client: FlaskClient, admin: dict[str, str], span: str
) -> None:
    response = client.get(
        f"/v1/reports/threshold-proximity?lever=discount_pct&{span}", headers=admin
    )
    assert response.status_code == 200
    assert response.json["items"] == []
