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
