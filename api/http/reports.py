"""The reports of DESIGN section 9: who swoops in, when, and how authority is gamed.

Each answers `{items, from, to, generated_at}`, or the same rows as CSV on
`Accept: text/csv`. Views parse, call the report's service function, and dump."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import wraps
from typing import Any

import psycopg
from flask import Response, request
from flask_smorest import Blueprint

from api.http.auth import Scope, requires
from api.http.context import runtime
from api.http.replies import reply
from api.http.schemas.reports import (
    ApprovalTimesQuery,
    ApprovalTimesReportOut,
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
from api.service.approval_times import approval_times as approval_times_items
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


@dataclass(frozen=True, slots=True)
class Asked:
    """A report's parsed query, with its `from`/`to` as dates."""

    query: dict[str, Any]
    start: date | None
    end: date | None

    def lever(self) -> str:
        """The `lever` asked for, else the active policy's first lever."""
        lever = self.query.get("lever")
        return str(lever) if lever else runtime().policies.active.levers[0].name


Compute = Callable[[psycopg.Connection, Asked], patterns.Items]


def report(path: str, operation_id: str, query: type, out: type) -> Callable[[Compute], Compute]:
    """Register one report: `compute(conn, asked)` gives its items; the view around it
    parses the query, runs it and answers JSON or CSV. Its docstring documents the operation."""
    name = path.rsplit("/", 1)[-1]

    def register(compute: Compute) -> Compute:
        @wraps(compute)
        def view(parsed: dict[str, Any]) -> Response:
            return _answer(name, parsed, compute)

        documented = problems(blp, 422, 503)(view)
        documented = blp.response(200, out)(documented)
        documented = blp.arguments(query, location="query")(documented)
        documented = blp.doc(operationId=operation_id, responses=csv_doc(out))(documented)
        blp.route(path, methods=["GET"])(requires(Scope.AUDIT_READ)(documented))
        return compute

    return register


def _answer(report: str, query: dict[str, Any], compute: Compute) -> Response:
    """Run one report in a read transaction (on DATABASE_READ_URL when set) and answer JSON
    or, when asked, CSV."""
    rt = runtime()
    start, end = _dates(query)
    with transaction(rt.pool) as conn:  # the rollups are written on the primary
        patterns.roll_up(conn, ROLL_BUDGET_S)
    with transaction(rt.reads) as conn:
        items = compute(conn, Asked(query, start, end))
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        return Response(
            "".join(patterns.csv_text(report, items)),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={report}.csv"},
        )
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


@report(
    "/v1/reports/threshold-proximity",
    "getThresholdProximityReport",
    ProximityQuery,
    ProximityReportOut,
)
def threshold_proximity(conn: psycopg.Connection, asked: Asked) -> patterns.Items:
    """Threshold hugging: every ask's offset from the requester's own ceiling, in bands."""
    policy, band = runtime().policies.active, asked.query.get("band") or Decimal(1)
    group_by = asked.query["group_by"]
    return patterns.threshold_proximity(
        conn, policy, asked.lever(), band, group_by, asked.start, asked.end
    )


@report("/v1/reports/period-end", "getPeriodEndReport", LeverQuery, PeriodEndReportOut)
def period_end(conn: psycopg.Connection, asked: Asked) -> patterns.Items:
    """The mad dash: asks and overrides by fiscal quarter and days to quarter end."""
    policy = runtime().policies.active
    return patterns.period_end(conn, policy, asked.lever(), asked.start, asked.end)


@report("/v1/reports/rescues", "getRescuesReport", ReportQuery, RescuesReportOut)
def rescues(conn: psycopg.Connection, asked: Asked) -> patterns.Items:
    """Managers who rescue instead of coach: steps acted on, overrides, coaching share."""
    return patterns.rescues(conn, asked.start, asked.end)


@report("/v1/reports/seller-timeline", "getSellerTimelineReport", TimelineQuery, TimelineReportOut)
def seller_timeline(conn: psycopg.Connection, asked: Asked) -> patterns.Items:
    """Close dates on the seller's clock: flagged requests and quarter slips per owner."""
    return patterns.seller_timeline(conn, asked.query["flag"], asked.start, asked.end)


@report("/v1/reports/customer-no", "getCustomerNoReport", ReportQuery, CustomerNoReportOut)
def customer_no(conn: psycopg.Connection, asked: Asked) -> patterns.Items:
    """The customer's no: withdrawals by reason and deals pushed again after a no."""
    return patterns.customer_no(conn, asked.start, asked.end)


@report(
    "/v1/reports/approval-times",
    "getApprovalTimesReport",
    ApprovalTimesQuery,
    ApprovalTimesReportOut,
)
def approval_times(conn: psycopg.Connection, asked: Asked) -> patterns.Items:
    """Time to act by tier or approver: median and p90 hours, overdue and escalated steps,
    the period-end median, and overrides that followed an overdue step."""
    policy = runtime().policies.active
    return approval_times_items(conn, policy, asked.query["group_by"], asked.start, asked.end)
