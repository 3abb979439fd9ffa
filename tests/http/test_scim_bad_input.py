"""Bad SCIM input: a 4xx in SCIM's Error shape (application/scim+json), never a 500, and
nothing written for a refused change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.http.scim_client import DEALDESK, PATCH_OP, SCIM, USERS, Scim, error, user

pytestmark = pytest.mark.usefixtures("db")


def people_count(client: FlaskClient, admin: dict[str, str]) -> int:
    return len(client.get("/v1/people?limit=500", headers=admin).json["items"])


def raw(scim: Scim, method: str, path: str, data: bytes, content_type: str = SCIM) -> Any:
    return scim.client.open(
        path, method=method, data=data, content_type=content_type, headers=scim.headers
    )


BODIES = [
    (b'{"userName": "ann"', 400, "invalidSyntax", "The body is not valid JSON"),
    (b"[" * 5000 + b"]" * 5000, 400, "invalidSyntax", "The JSON body is nested"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, 400, "invalidSyntax", "The JSON body is nested deeper"),
    (b'"just a string"', 400, "invalidValue", "The request body is not valid. body: Must be"),
    (b'{"userName": 42}', 400, "invalidValue", "`userName` is required: a non-empty string."),
    (b'{"userName": "a", "active": "maybe"}', 400, "invalidValue", "`active` must be a boolean."),
    (b'{"userName": "a", "emails": "a@b"}', 400, "invalidValue", "`emails` must be a list."),
    (b'{"userName": "a", "name": []}', 400, "invalidValue", "`name` must be an object."),
    (
        b'{"userName": "a", "' + DEALDESK.encode() + b'": {"tier": 7}}',
        400,
        "invalidValue",
        f"`{DEALDESK}:tier` must be a string.",
    ),
    (b'{"userName": "' + b"x" * 129 + b'"}', 400, "invalidValue", "`userName` is at most 128"),
    (b'{"userName": "a\\u0000b"}', 400, "invalidValue", "The request body is not valid."),
    (b'{"userName": "a/b"}', 400, "invalidValue", "`userName` must not contain `/`"),
    (
        b'{"userName": "a", "externalId": "' + b"e" * 5000 + b'"}',
        400,
        "invalidValue",
        "`externalId` is at most 1024 characters.",
    ),
    (
        b'{"userName": "a", "emails": [{"value": "' + b"e" * 5000 + b'"}]}',
        400,
        "invalidValue",
        "`emails[0].value` is at most 1024 characters.",
    ),
]


@pytest.mark.parametrize(
    ("data", "status", "scim_type", "detail"),
    BODIES,
    ids=[
        "truncated",
        "deep arrays",
        "deep objects",
        "not an object",
        "userName a number",
        "active maybe",
        "emails a string",
        "name a list",
        "tier a number",
        "userName too long",
        "NUL",
        "slash in userName",
        "externalId too long",
        "email too long",
    ],
)
def test_bad_post_bodies(
    scim: Scim,
    client: FlaskClient,
    admin: dict[str, str],
    data: bytes,
    status: int,
    scim_type: str,
    detail: str,
) -> None:
    response = raw(scim, "POST", USERS, data)
    body = error(response)
    assert (response.status_code, body["status"], body.get("scimType")) == (
        status,
        str(status),
        scim_type,
    )
    assert body["detail"].startswith(detail), body["detail"]
    assert people_count(client, admin) == 0


def test_a_body_over_1_mib_is_413_in_scim_shape(scim: Scim) -> None:
    response = raw(scim, "POST", USERS, b'{"userName": "' + b"x" * (1024 * 1024) + b'"}')
    assert (response.status_code, error(response)) == (
        413,
        {"status": "413", "detail": "The request body is larger than 1 MiB."},
    )


def test_a_non_json_media_type_is_415(scim: Scim) -> None:
    response = raw(scim, "POST", USERS, b"userName=ann", "application/x-www-form-urlencoded")
    assert (response.status_code, error(response)) == (
        415,
        {"status": "415", "detail": "Send the body as JSON with Content-Type: application/json."},
    )


PATCHES = [
    ({"Operations": []}, "invalidSyntax", "`Operations` must be a non-empty list."),
    ({"Operations": "replace"}, "invalidSyntax", "`Operations` must be a non-empty list."),
    (
        {"Operations": [{"op": "merge", "value": {}}]},
        "invalidSyntax",
        "`Operations[0].op` must be add, replace or remove.",
    ),
    ({"Operations": [{"op": "remove"}]}, "noTarget", "A remove operation needs a `path`."),
    (
        {"Operations": [{"op": "replace", "value": 3}]},
        "invalidValue",
        "`Operations[0].value` must be an object when there is no path.",
    ),
    (
        {"Operations": [{"op": "replace", "path": 'emails[type ne "work"].value', "value": "x"}]},
        "invalidPath",
        'Only `attribute eq "value"` filters are supported, not \'type ne "work"\'.',
    ),
    (
        {"Operations": [{"op": "replace", "path": "name..x", "value": "x"}]},
        "invalidPath",
        "The path 'name..x' is not a valid attribute path.",
    ),
    (
        {"Operations": [{"op": "replace", "path": 5, "value": "x"}]},
        "invalidPath",
        "`Operations[0].path` must be a string.",
    ),
    (
        {"Operations": [{"op": "replace", "path": "active", "value": "yes"}]},
        "invalidValue",
        "`active` must be a boolean.",
    ),
    (
        {"Operations": [{"op": "replace", "value": {"userName": ""}}]},
        "invalidValue",
        "`userName` is required: a non-empty string.",
    ),
    (
        {"Operations": [{"op": "add", "path": f"{DEALDESK}:tier", "value": "king"}]},
        "invalidValue",
        "`tier` 'king' is not a tier of the active policy: account_manager, sales_manager, "
        "sales_director, vp_sales, cfo, ceo.",
    ),
]


@pytest.mark.parametrize(
    ("body", "scim_type", "detail"),
    PATCHES,
    ids=[
        "no operations",
        "operations a string",
        "unknown op",
        "remove without path",
        "no-path value not an object",
        "ne filter",
        "bad path",
        "path a number",
        "active yes",
        "empty userName",
        "unknown tier",
    ],
)
def test_bad_patches_change_nothing(
    scim: Scim,
    client: FlaskClient,
    admin: dict[str, str],
    body: dict[str, Any],
    scim_type: str,
    detail: str,
) -> None:
    scim.post(user("ann@example.com"))
    before = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    response = scim.call("PATCH", f"{USERS}/ann@example.com", {"schemas": [PATCH_OP], **body})
    assert (response.status_code, error(response)) == (
        400,
        {"status": "400", "scimType": scim_type, "detail": detail},
    )
    assert client.get("/v1/audit/events?limit=500", headers=admin).json["items"] == before


@pytest.mark.parametrize(
    ("query", "status", "scim_type", "detail"),
    [
        (
            'filter=title eq "x"',
            400,
            "invalidFilter",
            "Filters compare userName, externalId, emails.value or id with `eq`.",
        ),
        (
            'filter=userName co "x"',
            400,
            "invalidFilter",
            'Only `attribute eq "value"` filters are supported, not \'userName co "x"\'.',
        ),
        (
            'filter=userName eq "a" and active eq true',
            400,
            "invalidFilter",
            "Filters compare userName, externalId, emails.value or id with `eq`.",
        ),
        (
            "filter=active eq true",
            400,
            "invalidFilter",
            "Filters compare userName, externalId, emails.value or id with `eq`.",
        ),
        ("startIndex=first", 400, "invalidValue", "`startIndex` must be an integer."),
        ("count=" + "9" * 30, 200, None, None),
    ],
    ids=["unknown attribute", "co", "and", "boolean", "startIndex text", "huge count"],
)
def test_bad_list_queries(
    scim: Scim, query: str, status: int, scim_type: str | None, detail: str | None
) -> None:
    response = scim.call("GET", f"{USERS}?{query}")
    assert response.status_code == status
    if detail is not None:
        assert error(response) == {"status": str(status), "scimType": scim_type, "detail": detail}
    else:
        assert response.json["totalResults"] == 0


def test_keys_and_scopes_are_checked_first(
    client: FlaskClient, make_key: Callable[..., str]
) -> None:
    anonymous = client.get(USERS)
    assert (anonymous.status_code, anonymous.headers["WWW-Authenticate"], error(anonymous)) == (
        401,
        "Bearer",
        {"status": "401", "detail": "Send an API key as `Authorization: Bearer <key>`."},
    )
    people = {"Authorization": f"Bearer {make_key('people', name='hr')}"}
    refused = client.post(USERS, json=user("ann@example.com"), headers=people)
    assert (refused.status_code, error(refused)) == (
        403,
        {"status": "403", "detail": "This API key lacks the `scim` scope."},
    )
    admin = {"Authorization": f"Bearer {make_key('admin', name='root')}"}
    assert client.get(USERS, headers=admin).status_code == 200  # admin implies scim


def test_unknown_paths_and_methods_answer_in_scim_shape(scim: Scim) -> None:
    groups = scim.call("GET", "/scim/v2/Groups")
    assert (groups.status_code, error(groups)) == (
        404,
        {"status": "404", "detail": "No resource at /scim/v2/Groups."},
    )
    put = scim.call("PUT", "/scim/v2/Users")
    assert (put.status_code, error(put)) == (
        405,
        {"status": "405", "detail": "PUT is not allowed on /scim/v2/Users."},
    )
    search = scim.call("POST", "/scim/v2/.search", {"filter": 'userName eq "a"'})
    assert (search.status_code, error(search)) == (
        501,
        {
            "status": "501",
            "detail": "Searching with POST /.search is not supported: filter with GET.",
        },
    )


def test_an_unknown_user_is_404_before_its_body_is_read(scim: Scim) -> None:
    for method in ("PUT", "PATCH"):
        response = raw(scim, method, f"{USERS}/nobody@example.com", b'{"broken"')
        assert (response.status_code, error(response)) == (
            404,
            {"status": "404", "detail": "No User 'nobody@example.com'."},
        )
