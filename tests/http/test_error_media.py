"""Errors are problem documents; a client whose Accept names application/json and not
application/problem+json (Salesforce External Services) gets the same body as application/json.
And one problem `type` for every validation error, body or query."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.http.conftest import deal

PROBLEM = "application/problem+json"
JSON = "application/json"
ACCEPTS = [
    (None, PROBLEM),
    ("*/*", PROBLEM),
    (JSON, JSON),
    ("application/json;q=0.9, text/plain;q=0.5", JSON),
    ("application/*", PROBLEM),
    (PROBLEM, PROBLEM),
    (f"{JSON}, {PROBLEM}", PROBLEM),
    (f"{PROBLEM};q=0.1, {JSON}", PROBLEM),
    (f"{JSON}, {PROBLEM};q=0", JSON),
    ("text/html", PROBLEM),
]
CASES = [
    # name, method, path, body, needs key, status, problem type
    ("no key", "GET", "/v1/people", None, False, 401, "unauthorized"),
    ("unknown path", "GET", "/v1/nothing", None, True, 404, "not-found"),
    ("bad body", "POST", "/v1/evaluations", {"deal": {}}, True, 422, "validation-error"),
    ("bad query", "GET", "/v1/people?limit=501", None, True, 422, "validation-error"),
    ("bad cursor", "GET", "/v1/people?cursor=zz", None, True, 422, "validation-error"),
    ("405", "DELETE", "/v1/people", None, True, 405, "method-not-allowed"),
]


@pytest.mark.parametrize(("accept", "media"), ACCEPTS, ids=[str(a) for a, _ in ACCEPTS])
@pytest.mark.parametrize(
    ("method", "path", "body", "keyed", "status", "slug"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_problem_media_type_follows_accept(
    client: FlaskClient,
    admin: dict[str, str],
    accept: str | None,
    media: str,
    method: str,
    path: str,
    body: object,
    keyed: bool,
    status: int,
    slug: str,
) -> None:
    headers = dict(admin) if keyed else {}
    if accept is not None:
        headers["Accept"] = accept
    response = client.open(path, method=method, json=body, headers=headers)
    assert (response.status_code, response.mimetype) == (status, media)
    assert response.json["type"] == f"urn:dealdesk:problem:{slug}"
    assert response.json["status"] == status
    plain = client.open(path, method=method, json=body, headers={**headers, "Accept": PROBLEM})
    assert plain.json == response.json, "the body is the same whatever the media type"


def test_query_and_body_validation_share_one_type_and_name_the_field(
    client: FlaskClient, admin: dict[str, str], org: object
) -> None:
    query = client.get("/v1/overrides?fiscal_quarter=5", headers=admin)
    body = client.post(
        "/v1/evaluations",
        json={"deal": deal(list_amount="-1"), "requested_by": "am.jones"},
        headers=admin,
    )
    assert query.json == {
        "type": "urn:dealdesk:problem:validation-error",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "The request parameters are not valid.",
        "errors": {
            "fiscal_quarter": ["Must be greater than or equal to 1 and less than or equal to 4."]
        },
    }
    assert body.json["type"] == query.json["type"]
    assert body.json["errors"] == {"deal.list_amount": ["Must be at least 0."]}
