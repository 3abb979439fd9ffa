"""The people registry: PUT /v1/people/{id}, GET /v1/people/{id}, GET /v1/people."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from api.errors import NotFound
from api.http.auth import Scope, current_key, requires
from api.http.body import json_body
from api.http.context import runtime
from api.http.replies import decode_cursor, encode_cursor, reply
from api.http.schemas import PageQuery, PeoplePage, PersonIn, PersonOut
from api.http.spec import EXAMPLES, body, problems
from api.policy.decision import iso_utc
from api.service.people import person_payload, put_person
from api.storage.database import transaction
from api.storage.people import Person, get_person, list_people

blp = Blueprint("people", __name__, description="The org registry: tiers, managers, delegates")
PERSON_IN = PersonIn()


def person_json(person: Person) -> dict[str, Any]:
    return {
        **person_payload(person),
        "created_at": iso_utc(person.created_at),
        "updated_at": iso_utc(person.updated_at),
    }


@blp.route("/v1/people/<string:person_id>", methods=["PUT"])
@blp.doc(operationId="putPerson")
@requires(Scope.PEOPLE)
@blp.doc(requestBody=body(PersonIn, EXAMPLES["person"]))
@blp.response(200, PersonOut)
@blp.alt_response(201, schema=PersonOut, description="Created", success=True)
@problems(blp, 400, 413, 415, 422, 503)
def put(person_id: str) -> Response:
    """Create or replace a person; their tier must exist in the active policy."""
    rt = runtime()
    if not 1 <= len(person_id) <= 128:
        raise NotFound("A person id is 1 to 128 characters.")
    data = json_body(PERSON_IN)
    with transaction(rt.pool) as conn:
        policy = rt.policies.follow(conn).active  # tiers of the policy in force
        person, created = put_person(conn, policy, person_id, data, current_key().actor)
    return reply(person_json(person), 201 if created else 200)


@blp.route("/v1/people/<string:person_id>", methods=["GET"])
@blp.doc(operationId="getPerson")
@requires(Scope.PEOPLE)
@blp.response(200, PersonOut)
@problems(blp, 404, 503)
def get(person_id: str) -> Response:
    with transaction(runtime().pool) as conn:
        person = get_person(conn, person_id)
    if person is None:
        raise NotFound(f"No person {person_id!r}.")
    return reply(person_json(person))


@blp.route("/v1/people", methods=["GET"])
@blp.doc(operationId="listPeople")
@requires(Scope.PEOPLE)
@blp.arguments(PageQuery, location="query")
@blp.response(200, PeoplePage)
@problems(blp, 422, 503)
def index(query: dict[str, Any]) -> Response:
    after = decode_cursor(query.get("cursor"), str)
    limit = query["limit"]
    with transaction(runtime().pool) as conn:
        rows = list_people(conn, after[0] if after else "", limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return reply(
        {
            "items": [person_json(p) for p in page],
            "next_cursor": encode_cursor([page[-1].id]) if more else None,
        }
    )
