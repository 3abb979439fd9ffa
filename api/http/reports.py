"""The reports of DESIGN section 9: who swoops in, when, and how authority is gamed.

Each answers `{items, from, to, generated_at}`, or the same rows as CSV on
`Accept: text/csv`. Views parse, call the report's service function, and dump."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from flask import Response, request
from flask_smorest import Blueprint

from api.http.auth import Scope, requires
from api.http.context import runtime
from api.http.replies import reply
from api.http.schemas.reports import (
    CustomerNoReportOut,
    LeverQuery,
    PeriodEndReportOut,
    ProximityQuery,
    ProximityReportOut,
    ReportQuery,
    RescuesReportOut,
    TimelineQuery,
    TimelineReportOut,
)
from api.http.spec import problems
from api.policy.decision import iso_utc
from api.service import patterns
from api.storage.database import transaction
from api.storage.reports import ROLL_BUDGET_S

blp = Blueprint("reports", __name__, description="Reports: rescues, the mad dash, gaming")


def csv_doc(schema: type) -> dict[str, Any]:
    """The 200 response: the report as JSON, or the same rows as CSV."""
    return {
        "200": {
            "description": "The report as JSON, or the same rows as CSV with `Accept: text/csv`.",
            "content": {
                "application/json": {"schema": schema},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }


def _answer(
    report: str, query: dict[str, Any], compute: Callable[[psycopg.Connection], patterns.Items]
) -> Response:
    """Run one report in a read transaction (on DATABASE_READ_URL when set) and answer JSON
    or, when asked, CSV."""
    rt = runtime()
    with transaction(rt.pool) as conn:  # the rollups are written on the primary
        patterns.roll_up(conn, ROLL_BUDGET_S)
    with transaction(rt.reads) as conn:
        items = compute(conn)
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        return Response(
            "".join(patterns.csv_text(report, items)),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={report}.csv"},
        )
    start, end = _dates(query)
    return reply(
        {
            "items": items,
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "generated_at": iso_utc(rt.now()),
        }
    )


def _dates(query: dict[str, Any]) -> tuple[date | None, date | None]:
    start, end = query.get("from_"), query.get("to")
    return (
        date.fromisoformat(start) if start else None,
        date.fromisoformat(end) if end else None,
    )


def _lever(query: dict[str, Any]) -> str:
    lever = query.get("lever")
    return str(lever) if lever else runtime().policies.active.levers[0].name


@blp.route("/v1/reports/threshold-proximity", methods=["GET"])
@requires(Scope.AUDIT_READ)
@blp.doc(operationId="getThresholdProximityReport", responses=csv_doc(ProximityReportOut))
@blp.arguments(ProximityQuery, location="query")
@blp.response(200, ProximityReportOut)
@problems(blp, 422, 503)
def threshold_proximity(query: dict[str, Any]) -> Response:
    """Threshold hugging: every ask's offset from the requester's own ceiling, in bands."""
    policy = runtime().policies.active
    start, end = _dates(query)
    band = query.get("band") or Decimal(1)
    return _answer(
        "threshold-proximity",
        query,
        lambda conn: patterns.threshold_proximity(
            conn, policy, _lever(query), band, query["group_by"], start, end
        ),
    )


@blp.route("/v1/reports/period-end", methods=["GET"])
@requires(Scope.AUDIT_READ)
@blp.doc(operationId="getPeriodEndReport", responses=csv_doc(PeriodEndReportOut))
@blp.arguments(LeverQuery, location="query")
@blp.response(200, PeriodEndReportOut)
@problems(blp, 422, 503)
def period_end(query: dict[str, Any]) -> Response:
    """The mad dash: asks and overrides by fiscal quarter and days to quarter end."""
    policy = runtime().policies.active
    start, end = _dates(query)
    return _answer(
        "period-end",
        query,
        lambda conn: patterns.period_end(conn, policy, _lever(query), start, end),
    )


@blp.route("/v1/reports/rescues", methods=["GET"])
@requires(Scope.AUDIT_READ)
@blp.doc(operationId="getRescuesReport", responses=csv_doc(RescuesReportOut))
@blp.arguments(ReportQuery, location="query")
@blp.response(200, RescuesReportOut)
@problems(blp, 422, 503)
def rescues(query: dict[str, Any]) -> Response:
    """Managers who rescue instead of coach: steps acted on, overrides, coaching share."""
    start, end = _dates(query)
    return _answer("rescues", query, lambda conn: patterns.rescues(conn, start, end))


@blp.route("/v1/reports/seller-timeline", methods=["GET"])
@requires(Scope.AUDIT_READ)
@blp.doc(operationId="getSellerTimelineReport", responses=csv_doc(TimelineReportOut))
@blp.arguments(TimelineQuery, location="query")
@blp.response(200, TimelineReportOut)
@problems(blp, 422, 503)
def seller_timeline(query: dict[str, Any]) -> Response:
    """Close dates on the seller's clock: flagged requests and quarter slips per owner."""
    start, end = _dates(query)
    return _answer(
        "seller-timeline",
        query,
        lambda conn: patterns.seller_timeline(conn, query["flag"], start, end),
    )


@blp.route("/v1/reports/customer-no", methods=["GET"])
@requires(Scope.AUDIT_READ)
@blp.doc(operationId="getCustomerNoReport", responses=csv_doc(CustomerNoReportOut))
@blp.arguments(ReportQuery, location="query")
@blp.response(200, CustomerNoReportOut)
@problems(blp, 422, 503)
def customer_no(query: dict[str, Any]) -> Response:
    """The customer's no: withdrawals by reason and deals pushed again after a no."""
    start, end = _dates(query)
    return _answer("customer-no", query, lambda conn: patterns.customer_no(conn, start, end))
