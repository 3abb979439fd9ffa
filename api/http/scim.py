"""SCIM 2.0 (RFC 7643/7644) over the people registry: /scim/v2 (DESIGN 13).

Its own protocol, so not in openapi.yaml: bodies and errors are application/scim+json, errors
in SCIM's `Error` shape (problems.problem turns every refusal under /scim/ into one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from flask import Blueprint, Response, request

from api.http.auth import Scope, current_key, requires
from api.http.body import raw_json
from api.http.context import runtime
from api.identity import scim_schemas as discovery
from api.identity.scim_error import ScimError, error_document
from api.identity.scim_path import list_filter, project
from api.identity.scim_user import read_user, render
from api.policy.model import Policy
from api.service import scim as service
from api.storage.database import transaction
from api.storage.scim import ScimRow, find_users

PREFIX = "/scim/v2"
SCIM_JSON = "application/scim+json"
DEFAULT_COUNT = 100
# service.replace_user and service.patch_user: (conn, policy, person_id, body, actor) -> row
Rewrite = Callable[[psycopg.Connection, Policy, str, Callable[[], Mapping[str, Any]], str], ScimRow]

blp = Blueprint("scim", __name__, url_prefix=PREFIX)


@blp.errorhandler(ScimError)
def _scim_error(exc: ScimError) -> Response:
    return scim_reply(error_document(exc.status, exc.detail, exc.scim_type), exc.status)


def scim_reply(doc: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
    response = Response(json.dumps(doc), status=status, mimetype=SCIM_JSON)
    if location:
        response.headers["Location"] = location
    return response


@blp.route("/Users", methods=["GET"])
@requires(Scope.SCIM)
def list_users() -> Response:
    start = max(_int_param("startIndex", 1), 1)
    count = min(max(_int_param("count", DEFAULT_COUNT), 0), discovery.MAX_COUNT)
    text = request.args.get("filter")
    field, value = list_filter(text) if text else ("all", "")
    with transaction(runtime().pool) as conn:
        rows, total = find_users(conn, field, value, start - 1, count)
    return scim_reply(
        {
            "schemas": [discovery.LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(rows),
            "Resources": [_user(row) for row in rows],
        }
    )


@blp.route("/Users", methods=["POST"])
@requires(Scope.SCIM)
def create_user() -> Response:
    user = read_user(raw_json())
    rt = runtime()
    with transaction(rt.pool) as conn:
        row = service.create_user(conn, rt.policies.follow(conn).active, user, _actor())
    doc = _user(row)
    return scim_reply(doc, 201, location=doc["meta"]["location"])


@blp.route("/Users/<string:person_id>", methods=["GET"])
@requires(Scope.SCIM)
def get_user(person_id: str) -> Response:
    with transaction(runtime().pool) as conn:
        row = service.live_user(conn, person_id)
    return scim_reply(_user(row))


@blp.route("/Users/<string:person_id>", methods=["PUT"])
@requires(Scope.SCIM)
def replace_user(person_id: str) -> Response:
    return _rewrite(service.replace_user, person_id)


@blp.route("/Users/<string:person_id>", methods=["PATCH"])
@requires(Scope.SCIM)
def patch_user(person_id: str) -> Response:
    return _rewrite(service.patch_user, person_id)


def _rewrite(change: Rewrite, person_id: str) -> Response:
    """PUT or PATCH under the policy in force; the body is read only once the user exists."""
    rt = runtime()
    with transaction(rt.pool) as conn:
        policy = rt.policies.follow(conn).active
        row = change(conn, policy, person_id, raw_json, _actor())
    return scim_reply(_user(row))


@blp.route("/Users/<string:person_id>", methods=["DELETE"])
@requires(Scope.SCIM)
def delete_user(person_id: str) -> Response:
    rt = runtime()
    with transaction(rt.pool) as conn:
        service.delete_user(conn, rt.policies.follow(conn).active, person_id, _actor())
    return Response(status=204)


@blp.route("/ServiceProviderConfig", methods=["GET"])
@requires(Scope.SCIM)
def service_provider_config() -> Response:
    return scim_reply(discovery.service_provider_config(_base()))


@blp.route("/ResourceTypes", methods=["GET"])
@requires(Scope.SCIM)
def resource_types() -> Response:
    return scim_reply(_listed(discovery.resource_types(_base())))


@blp.route("/ResourceTypes/<string:name>", methods=["GET"])
@requires(Scope.SCIM)
def resource_type(name: str) -> Response:
    return scim_reply(_one(discovery.resource_types(_base()), name, "ResourceType"))


@blp.route("/Schemas", methods=["GET"])
@requires(Scope.SCIM)
def schemas() -> Response:
    return scim_reply(_listed(discovery.schemas(_base(), runtime().policies.active.tiers)))


@blp.route("/Schemas/<string:urn>", methods=["GET"])
@requires(Scope.SCIM)
def schema(urn: str) -> Response:
    found = discovery.schemas(_base(), runtime().policies.active.tiers)
    return scim_reply(_one(found, urn, "Schema"))


@blp.route("/.search", methods=["POST"])
@blp.route("/Users/.search", methods=["POST"])
@requires(Scope.SCIM)
def search() -> Response:
    raise ScimError(501, "Searching with POST /.search is not supported: filter with GET.")


def _user(row: ScimRow) -> dict[str, Any]:
    doc = render(service.stored(row), _base())
    return project(doc, request.args.get("attributes"), request.args.get("excludedAttributes"))


def _listed(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [discovery.LIST_SCHEMA],
        "totalResults": len(items),
        "startIndex": 1,
        "itemsPerPage": len(items),
        "Resources": items,
    }


def _one(items: list[dict[str, Any]], wanted: str, kind: str) -> dict[str, Any]:
    found = next((i for i in items if i["id"] == wanted), None)
    if found is None:
        raise ScimError(404, f"No {kind} {wanted!r}.")
    return found


def _int_param(name: str, default: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ScimError(400, f"`{name}` must be an integer.", "invalidValue") from None


def _base() -> str:
    return request.url_root.rstrip("/") + PREFIX


def _actor() -> str:
    """`scim:` + the key's name, or the token's client (DESIGN 13)."""
    caller = current_key()
    return f"scim:{caller.name.removeprefix('jwt:') if caller.kind == 'jwt' else caller.name}"
