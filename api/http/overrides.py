"""Executive overrides and finance's view of them: create, read, filter, export, summarise,
acknowledge and review."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context
from flask_smorest import Blueprint

from api.http.auth import Scope, requires
from api.http.body import json_body
from api.http.deals import with_levers
from api.http.metrics import count_override
from api.http.openapi import response_headers
from api.http.progress import heartbeating
from api.http.replies import decode_cursor, encode_cursor, reply, resource_id
from api.http.requests import context
from api.http.schemas import (
    AcknowledgeIn,
    OverrideIn,
    OverrideOut,
    OverridesFilter,
    OverridesPage,
    OverridesQuery,
    ReviewIn,
    ReviewOut,
    SummaryOut,
    SummaryQuery,
)
from api.http.spec import EXAMPLES, body, problems
from api.http.uow import IDEMPOTENCY_PARAM, idempotent, replica_read, unit_of_work
from api.policy.decimals import decimal_str
from api.service import override_reviews, reports
from api.service import overrides as service
from api.storage import overrides as store

blp = Blueprint(
    "overrides", __name__, description="Executive overrides and the finance audit trail"
)
CSV_DOC = {"text/csv": {"schema": {"type": "string", "description": "CSV with a header row"}}}
PAGE_OR_CSV = {
    "description": "A page of matches, or every match as CSV with `Accept: text/csv`",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/OverridesPage"}},
        **CSV_DOC,
    },
}
FILTERS = (  # the filter parameters of GET /v1/overrides, as sent
    "from",
    "to",
    "fiscal_year",
    "fiscal_quarter",
    "executive_id",
    "owner_id",
    "category",
    "review_status",
    "period_end",
)
OVERRIDE_IN, ACKNOWLEDGE_IN, REVIEW_IN = OverrideIn(), AcknowledgeIn(), ReviewIn()


@blp.route("/v1/overrides", methods=["POST"])
@blp.doc(operationId="createOverride")
@requires(Scope.OVERRIDES)
@blp.doc(requestBody=body(OverrideIn, EXAMPLES["override"]), parameters=[IDEMPOTENCY_PARAM])
@blp.response(201, OverrideOut, headers=response_headers("Location"))
@problems(blp, 400, 404, 409, 413, 415, 422, 503)
@idempotent
def create() -> Response:
    """An executive grants terms beyond policy, their own authority, or around the owner."""
    data = json_body(OVERRIDE_IN)
    with unit_of_work() as conn:
        ctx = context(conn)
        deal = with_levers(data["deal"], ctx.policy) if "deal" in data else None
        payload = service.OverrideInput(
            data["executive_id"],
            data.get("request_id"),
            deal,
            data["terms"],
            data["reason_code"],
            data["justification"],
        )
        record = service.create(conn, ctx, payload)
    count_override(record.categories)
    return reply(reports.override_json(record, []), 201, {"Location": f"/v1/overrides/{record.id}"})


@blp.route("/v1/overrides", methods=["GET"])
@blp.doc(operationId="listOverrides")
@requires(Scope.AUDIT_READ)
@blp.arguments(OverridesQuery, location="query")
@blp.response(200, OverridesPage)
@blp.doc(responses={"200": PAGE_OR_CSV})
@problems(blp, 422, 503)
def index(query: dict[str, Any]) -> Response:
    """Filter overrides; pages by an opaque cursor, or streams every match as CSV
    (`Accept: text/csv`; `exportOverrides` is the same export as its own operation)."""
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        return csv_export(override_filters(query))
    filters = override_filters(query, paged=True)
    limit = query["limit"]
    with replica_read() as conn:
        rows = store.list_overrides(conn, filters, limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor([page[-1].seq]) if len(rows) > limit else None
    return reply({"items": [reports.override_json(r) for r in page], "next_cursor": next_cursor})


@blp.route("/v1/overrides/export", methods=["GET"])
@blp.doc(operationId="exportOverrides")
@requires(Scope.AUDIT_READ)
@blp.arguments(OverridesFilter, location="query")
@blp.doc(responses={"200": {"description": "Every match as CSV", "content": CSV_DOC}})
@problems(blp, 422, 503)
def export(query: dict[str, Any]) -> Response:
    """Every override that matches the filters, as CSV (what `Accept: text/csv` gives)."""
    return csv_export(override_filters(query))


def override_filters(query: dict[str, Any], *, paged: bool = False) -> dict[str, Any]:
    """The storage filters of a parsed `OverridesQuery`/`OverridesFilter`, for the API and
    the console alike; `paged` adds `after` from the cursor (a bad one is a 422 on `cursor`)."""
    filters = {k: query.get(k) for k in FILTERS if k != "from"}
    filters["from"] = query.get("from_")
    if paged:
        cursor = decode_cursor(query.get("cursor"), int)
        if cursor is not None:
            filters["after"] = cursor[0]
    return filters


def csv_export(filters: dict[str, Any]) -> Response:
    """Every override matching `filters` as streamed CSV, from a read transaction opened
    before the first byte, so that an outage is a 503 and not a cut stream."""

    def generate() -> Iterator[str]:
        with replica_read() as conn:
            yield from heartbeating(reports.csv_lines(store.export_rows(conn, filters)), every=1)

    chunks = generate()
    first = next(chunks)

    def body() -> Iterator[str]:
        yield first
        yield from chunks

    return Response(
        stream_with_context(body()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=overrides.csv"},
    )


@blp.route("/v1/overrides/summary", methods=["GET"])
@blp.doc(operationId="summarizeOverrides")
@requires(Scope.AUDIT_READ)
@blp.arguments(SummaryQuery, location="query")
@blp.response(200, SummaryOut)
@problems(blp, 422, 503)
def summary(query: dict[str, Any]) -> Response:
    """Who overrides, how often, at what cost, and how much of it at period end."""
    with replica_read() as conn:
        rows = store.summary(conn, query["group_by"], query.get("from_"), query.get("to"))
    return reply(
        {
            "items": [
                {
                    "key": r.key,
                    "count": r.count,
                    "period_end_count": r.period_end_count,
                    "excess_value": decimal_str(r.excess_value),
                    "pending_review": r.pending_review,
                }
                for r in rows
            ]
        }
    )


@blp.route("/v1/overrides/<string:override_id>", methods=["GET"])
@blp.doc(operationId="getOverride")
@requires(Scope.AUDIT_READ)
@blp.response(200, OverrideOut)
@problems(blp, 404, 503)
def get(override_id: str) -> Response:
    """One override with its full review history."""
    oid = resource_id(override_id, "override")
    with unit_of_work() as conn:
        record = override_reviews.find(conn, oid)
        reviews = store.reviews(conn, oid)
    return reply(reports.override_json(record, reviews))


@blp.route("/v1/overrides/<string:override_id>/acknowledge", methods=["POST"])
@blp.doc(operationId="acknowledgeOverride")
@requires(Scope.REQUESTS)
@blp.doc(requestBody=body(AcknowledgeIn, EXAMPLES["acknowledge"]), parameters=[IDEMPOTENCY_PARAM])
@blp.response(200, OverrideOut)
@problems(blp, 400, 404, 413, 415, 422, 503)
@idempotent
def acknowledge(override_id: str) -> Response:
    """The deal's owner has seen the override."""
    oid = resource_id(override_id, "override")
    with unit_of_work() as conn:
        ctx = context(conn)
        override_reviews.find(conn, oid)
        data = json_body(ACKNOWLEDGE_IN)
        record = override_reviews.acknowledge(conn, ctx, oid, data["owner_id"])
        reviews = store.reviews(conn, oid)
    return reply(reports.override_json(record, reviews))


@blp.route("/v1/overrides/<string:override_id>/reviews", methods=["POST"])
@blp.doc(operationId="createOverrideReview")
@requires(Scope.AUDIT_REVIEW)
@blp.doc(requestBody=body(ReviewIn, EXAMPLES["review"]), parameters=[IDEMPOTENCY_PARAM])
@blp.response(201, ReviewOut)
@problems(blp, 400, 404, 413, 415, 422, 503)
@idempotent
def add_review(override_id: str) -> Response:
    """Finance reviews an override; the latest review sets its review_status."""
    oid = resource_id(override_id, "override")
    with unit_of_work() as conn:
        ctx = context(conn)
        override_reviews.find(conn, oid)
        data = json_body(REVIEW_IN)
        review = override_reviews.review(
            conn, ctx, oid, data["reviewer_id"], data["status"], data["note"]
        )
    return reply(reports.review_json(review), 201)
