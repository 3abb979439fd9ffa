"""The audit log: GET /v1/audit/events (oldest first, by id) and GET /v1/audit/verify."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from api.audit.chain import ChainRow, verify
from api.http.auth import Scope, requires
from api.http.context import runtime
from api.http.progress import heartbeating
from api.http.replies import reply
from api.http.schemas import EventsPage, EventsQuery, VerifyOut, VerifyQuery
from api.http.spec import problems
from api.storage.audit import chain_rows, events_after
from api.storage.database import transaction

blp = Blueprint("audit", __name__, description="The tamper-evident audit chain")


@blp.route("/v1/audit/events", methods=["GET"])
@blp.doc(operationId="listAuditEvents")
@requires(Scope.AUDIT_READ)
@blp.arguments(EventsQuery, location="query")
@blp.response(200, EventsPage)
@problems(blp, 422, 503)
def events(query: dict[str, Any]) -> Response:
    """Events with id > `after`, oldest first; pass `next_cursor` back as `after`."""
    limit = query["limit"]
    with transaction(runtime().pool) as conn:
        rows = events_after(conn, query["after"], limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return reply(
        {"items": [e.as_dict() for e in page], "next_cursor": page[-1].id if more else None}
    )


@blp.route("/v1/audit/verify", methods=["GET"])
@blp.doc(operationId="verifyAuditChain")
@requires(Scope.AUDIT_READ)
@blp.arguments(VerifyQuery, location="query")
@blp.response(200, VerifyOut)
@problems(blp, 422, 503)
def verify_chain(query: dict[str, Any]) -> Response:
    """Walk the whole chain; name the first event whose hash or prev_hash does not match.

    With `checkpoint_id` and `checkpoint_hash` (from an `audit.checkpoint` event kept
    elsewhere), `checkpoint_ok` says whether the intact chain still holds that event."""
    wanted = query.get("checkpoint_id")
    seen: list[str] = []

    def watch(rows: Iterator[ChainRow]) -> Iterator[ChainRow]:
        for row in rows:
            if row[0] == wanted:
                seen.append(row[7])
            yield row

    with transaction(runtime().pool) as conn:
        result = verify(heartbeating(watch(chain_rows(conn))))
    body = result.as_dict()
    if wanted is not None:
        intact = result.first_bad_event_id is None or result.first_bad_event_id > wanted
        body["checkpoint_ok"] = intact and seen == [query["checkpoint_hash"]]
    return reply(body)
