"""One console page per report (DESIGN 9): a chart and an accessible table of the same
numbers, the API's filters, and the same rows as CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import psycopg
from flask import Response, request, url_for
from marshmallow import Schema, ValidationError

from api.console import figures
from api.console.blueprint import FINANCE, bp, needs, page, user
from api.console.register import messages_of
from api.errors import DealdeskError, Invalid, NotFound
from api.http.context import runtime
from api.http.schemas.reports import (
    ApprovalTimesQuery,
    LeverQuery,
    ProximityQuery,
    ReportQuery,
    TimelineQuery,
)
from api.policy.model import Policy
from api.service import patterns
from api.service.approval_times import approval_times
from api.storage.database import transaction
from api.storage.reports import ROLL_BUDGET_S

Compute = Callable[[psycopg.Connection, Policy, dict[str, Any]], patterns.Items]
Draw = Callable[[patterns.Items, dict[str, Any]], figures.Figure]


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    title: str
    question: str
    query: Schema
    fields: tuple[str, ...]
    compute: Compute
    draw: Draw
    groups: tuple[str, ...] = ("tier", "owner")
    """The choices of its `group_by` filter, when it has one (the first is the default)."""


def _dates(q: dict[str, Any]) -> tuple[date | None, date | None]:
    start, end = q.get("from_"), q.get("to")
    return (date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None)


def _lever(policy: Policy, q: dict[str, Any]) -> str:
    return str(q.get("lever") or policy.levers[0].name)


REPORTS = {
    r.name: r
    for r in (
        Report(
            "threshold-proximity",
            "Threshold proximity",
            "Do asks bunch just under the requester's own ceiling?",
            ProximityQuery(),
            ("lever", "band", "group_by"),
            lambda conn, policy, q: patterns.threshold_proximity(
                conn,
                policy,
                _lever(policy, q),
                q.get("band") or Decimal(1),
                q["group_by"],
                *_dates(q),
            ),
            lambda items, q: figures.threshold_proximity(
                items, q["lever_name"], str(q.get("band") or 1), q["group_by"]
            ),
        ),
        Report(
            "period-end",
            "Period end",
            "Do asks and overrides pile up as the quarter closes?",
            LeverQuery(),
            ("lever",),
            lambda conn, policy, q: patterns.period_end(
                conn, policy, _lever(policy, q), *_dates(q)
            ),
            lambda items, q: figures.period_end(
                items, q["lever_name"], q["currency"], q["fiscal_start"], q["window"]
            ),
        ),
        Report(
            "rescues",
            "Rescues",
            "Who rescues deals instead of coaching the owner?",
            ReportQuery(),
            (),
            lambda conn, policy, q: patterns.rescues(conn, *_dates(q)),
            lambda items, q: figures.rescues(items),
        ),
        Report(
            "seller-timeline",
            "Seller timeline",
            "Whose close dates run on the seller's clock, and slip?",
            TimelineQuery(),
            ("flag",),
            lambda conn, policy, q: patterns.seller_timeline(conn, q["flag"], *_dates(q)),
            lambda items, q: figures.seller_timeline(items, q["flag"]),
        ),
        Report(
            "customer-no",
            "The customer's no",
            "Which deals come back after the customer said no, and ask for more?",
            ReportQuery(),
            (),
            lambda conn, policy, q: patterns.customer_no(conn, *_dates(q)),
            lambda items, q: figures.customer_no(items),
        ),
        Report(
            "approval-times",
            "Approval times",
            "How long do steps wait for their approver, and which stalls invite the swoop?",
            ApprovalTimesQuery(),
            ("group_by",),
            lambda conn, policy, q: approval_times(conn, policy, q["group_by"], *_dates(q)),
            lambda items, q: figures.approval_times(items, q["group_by"]),
            ("tier", "approver"),
        ),
    )
}


@bp.route("/reports")
@needs(FINANCE)
def reports() -> str:
    return page("console/reports.html", title="Reports", me=user(), reports=REPORTS.values())


def _run(report: Report) -> tuple[patterns.Items, dict[str, Any], dict[str, str]]:
    sent = {k: v for k in ("from", "to", *report.fields) if (v := request.args.get(k, "").strip())}
    try:
        query: dict[str, Any] = report.query.load(sent)
    except ValidationError as exc:
        raise Invalid("The report's filter is not valid.", messages_of(exc)) from None
    policy = runtime().policies.active
    query["lever_name"] = _lever(policy, query)
    query["currency"] = policy.currency
    query["fiscal_start"] = policy.fiscal_year_start
    start, end = _dates(query)
    today = runtime().today()
    query["window"] = (start, min(end, today) if end else today)
    with transaction(runtime().pool) as conn:  # as GET /v1/reports: rollups on the primary
        patterns.roll_up(conn, ROLL_BUDGET_S)
    with transaction(runtime().reads) as conn:  # as GET /v1/reports reads
        items = report.compute(conn, policy, query)
    return items, query, sent


def _report(name: str) -> Report:
    found = REPORTS.get(name)
    if found is None:
        raise NotFound(f"No report {name!r}.")
    return found


@bp.route("/reports/<string:name>")
@needs(FINANCE)
def report(name: str) -> str | tuple[str, int]:
    chosen = _report(name)
    policy = runtime().policies.active
    context: dict[str, Any] = {
        "title": chosen.title,
        "me": user(),
        "report": chosen,
        "levers": [lever.name for lever in policy.levers],
        "errors": {},
        "figure": None,
        "sent": {},
    }
    try:
        items, query, sent = _run(chosen)
    except DealdeskError as exc:
        context.update(errors=exc.errors, sent=dict(request.args))
        return page("console/report.html", "console/report_figure.html", **context), 422
    context.update(
        figure=chosen.draw(items, query),
        sent=sent,
        csv_url=url_for("console.report_csv", name=name) + (f"?{urlencode(sent)}" if sent else ""),
    )
    return page("console/report.html", "console/report_figure.html", **context)


@bp.route("/reports/<string:name>.csv")
@needs(FINANCE)
def report_csv(name: str) -> Response:
    """The same rows as the API's `Accept: text/csv` answer for this filter."""
    chosen = _report(name)
    items, _, _ = _run(chosen)
    return Response(
        "".join(patterns.csv_text(name, items)),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}.csv"},
    )
