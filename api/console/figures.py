"""Each report of DESIGN 9 as a figure: one table and one chart built from the same items.

The chart's every point is a cell of the table (the table holds more columns than the chart
draws), so the numbers beside a chart are always the chart's numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from api.policy.period import quarter_bounds
from api.reports.bands import BAND_KEYS
from api.reports.buckets import BUCKET_NAMES, days_covered
from api.service.approval_times import COLUMNS as APPROVAL_TIMES_COLUMNS
from api.workflow.customer_no import WITHDRAW_REASON_CODES
from api.workflow.overrides import Category

Items = list[dict[str, Any]]
Window = tuple[date | None, date]
"""The report's date range: from (or the beginning), to (or today)."""


@dataclass(frozen=True, slots=True)
class Figure:
    caption: str
    columns: list[str]
    rows: list[list[str]]
    """Table cells as text; the first cell of a row is its header."""
    chart: dict[str, Any]
    summary: str
    """The chart's text alternative: what it shows and what stands out."""
    notes: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _axes(x: str, y: str) -> dict[str, str]:
    """Axis titles for the chart, each naming its unit (what one step of the scale counts)."""
    return {"x": x, "y": y}


def _series(label: str, values: Sequence[Any]) -> dict[str, Any]:
    return {"label": label, "data": [float(v) if v is not None else None for v in values]}


def threshold_proximity(items: Items, lever: str, band: str, group_by: str) -> Figure:
    columns = [group_by, *(f"band {k}" for k in BAND_KEYS), "asks", "bunching", "flagged"]
    rows = [
        [
            i["key"],
            *(_text(i["bands"][k]) for k in BAND_KEYS),
            _text(i["asks"]),
            _text(i["bunching"]),
            _text(i["flagged"]),
        ]
        for i in items
    ]
    flagged = [f"{i['key']} (bunching {i['bunching']})" for i in items if i["flagged"]]
    chart = {
        "type": "bar",
        "labels": [f"band {k}" for k in BAND_KEYS],
        "datasets": [_series(i["key"], [i["bands"][k] for k in BAND_KEYS]) for i in items],
        "axes": _axes(f"offset from own {lever} ceiling (bands of {band} {lever})", "asks"),
    }
    return Figure(
        caption=f"Asks by offset from the requester's own {lever} ceiling, bands of {band}",
        columns=columns,
        rows=rows,
        chart=chart,
        summary=(
            f"Bar chart: for each {group_by}, how many asks fell in each band below (negative) "
            f"and above their own {lever} ceiling. "
            + (
                f"Flagged for bunching just under the ceiling: {', '.join(flagged)}."
                if flagged
                else "No group is flagged for bunching."
            )
        ),
    )


def per_day(item: dict[str, Any], fiscal_start: tuple[int, int], window: Window) -> str:
    """Requests per day of the bucket's days in the window, to two places ('—' for none)."""
    year, quarter = (int(part) for part in item["key"].removeprefix("FY").split("-Q"))
    bounds = quarter_bounds(year, quarter, *fiscal_start)
    days = days_covered(item["bucket"], bounds, *window)
    if days == 0:
        return "—"
    return str((Decimal(item["requests"]) / days).quantize(Decimal("0.01"), ROUND_HALF_UP))


def period_end(
    items: Items, lever: str, currency: str, fiscal_start: tuple[int, int], window: Window
) -> Figure:
    columns = [
        "quarter",
        "days to quarter end",
        "requests",
        "requests per day",
        f"mean {lever}",
        f"p90 {lever}",
        "overrides",
        f"excess value ({currency})",
    ]
    rows = [
        [
            i["key"],
            i["bucket"],
            _text(i["requests"]),
            per_day(i, fiscal_start, window),
            _text(i["mean"]),
            _text(i["p90"]),
            _text(i["overrides"]),
            _text(i["excess_value"]),
        ]
        for i in items
    ]
    quarters = sorted({i["key"] for i in items})
    cell = {(i["key"], i["bucket"]): i["requests"] for i in items}
    chart = {
        "type": "bar",
        "labels": list(BUCKET_NAMES),
        "datasets": [_series(q, [cell.get((q, b), 0) for b in BUCKET_NAMES]) for q in quarters],
        "axes": _axes("days to quarter end at submission", "requests"),
    }
    busiest = max(items, key=lambda i: i["requests"], default=None)
    return Figure(
        caption=f"Requests, {lever} asked, overrides and excess by days to quarter end",
        columns=columns,
        rows=rows,
        chart=chart,
        summary=(
            "Bar chart: requests submitted per bucket of days to quarter end, one bar per "
            "fiscal quarter. "
            + (
                f"Busiest: {busiest['key']}, {busiest['bucket']} days, {busiest['requests']} "
                "requests."
                if busiest
                else "No requests in this window."
            )
        ),
        notes=[
            "Buckets with no request count 0 in the chart and have no table row.",
            "The buckets span 7, 7, 14, 28 and the rest of the quarter's days: requests per "
            "day divides each count by the bucket's days inside the date range (and up to "
            "today), so buckets of different lengths compare like with like.",
        ],
    )


def rescues(items: Items) -> Figure:
    categories = [c.value for c in Category]
    columns = [
        "person",
        "approved",
        "rejected",
        "returned",
        *(f"overrides: {c}" for c in categories),
        "rescues",
        "coaching share",
    ]
    rows = [
        [
            i["key"],
            _text(i["approved"]),
            _text(i["rejected"]),
            _text(i["returned"]),
            *(_text(i["overrides"][c]) for c in categories),
            _text(i["rescues"]),
            _text(i["coaching_share"]),
        ]
        for i in items
    ]
    fields = ("approved", "rejected", "returned", "rescues")
    chart = {
        "type": "bar",
        "stacked": True,
        "labels": [i["key"] for i in items],
        "datasets": [_series(f, [i[f] for i in items]) for f in fields],
        "axes": _axes("approver or executive", "steps and rescues"),
    }
    most = max(items, key=lambda i: i["rescues"], default=None)
    return Figure(
        caption="Steps acted on, overrides and rescues per approver or executive",
        columns=columns,
        rows=rows,
        chart=chart,
        summary=(
            "Stacked bar chart per person: steps approved, rejected and returned (coaching), "
            "and rescues (overrides around the owner). "
            + (
                f"Most rescues: {most['key']} ({most['rescues']})."
                if most and most["rescues"]
                else "No rescues."
            )
        ),
    )


def seller_timeline(items: Items, flag: str) -> Figure:
    columns = ["owner", "requests", f"flagged {flag}", "slips to a later quarter"]
    rows = [[i["key"], _text(i["requests"]), _text(i["flagged"]), _text(i["slips"])] for i in items]
    fields = ("requests", "flagged", "slips")
    chart = {
        "type": "bar",
        "labels": [i["key"] for i in items],
        "datasets": [_series(f, [i[f] for i in items]) for f in fields],
        "axes": _axes("owner", "requests and revisions"),
    }
    slips = sum(i["slips"] for i in items)
    return Figure(
        caption=f"Requests, those flagged {flag}, and close-date slips per owner",
        columns=columns,
        rows=rows,
        chart=chart,
        summary=(
            f"Bar chart per owner: requests, requests flagged {flag}, and revisions that moved "
            f"the close date into a later quarter ({slips} in all)."
        ),
    )


def customer_no(items: Items) -> Figure:
    codes = list(WITHDRAW_REASON_CODES)
    columns = [
        "owner",
        *(f"withdrawn: {c}" for c in codes),
        "pushed again after a no",
        "asked deeper after a no",
    ]
    rows = [
        [
            i["key"],
            *(_text(i["withdrawals"][c]) for c in codes),
            _text(i["after_no"]),
            _text(i["deeper_after_no"]),
        ]
        for i in items
    ]
    chart = {
        "type": "bar",
        "labels": [i["key"] for i in items],
        "datasets": [
            _series("customer_declined", [i["withdrawals"]["customer_declined"] for i in items]),
            _series("after_no", [i["after_no"] for i in items]),
            _series("deeper_after_no", [i["deeper_after_no"] for i in items]),
        ],
        "axes": _axes("owner", "withdrawals and submissions"),
    }
    deeper = sum(i["deeper_after_no"] for i in items)
    return Figure(
        caption="Withdrawals by reason, and deals pushed again after the customer's no",
        columns=columns,
        rows=rows,
        chart=chart,
        summary=(
            "Bar chart per owner: withdrawals the customer declined, submissions after such a "
            f"no, and those that asked for more ({deeper} in all)."
        ),
    )


def approval_times(items: Items, group_by: str) -> Figure:
    columns = [
        group_by,
        "steps",
        "acted",
        "median hours",
        "p90 hours",
        "overdue",
        "escalated",
        "period-end median hours",
        "rescued after overdue",
    ]
    # the report's own columns after its key, in the order the CSV export writes them
    rows = [[i["key"], *(_text(i[f]) for f in APPROVAL_TIMES_COLUMNS[1:])] for i in items]
    chart = {
        "type": "bar",
        "labels": [i["key"] for i in items],
        "datasets": [
            _series("median hours", [i["median_hours"] for i in items]),
            _series("p90 hours", [i["p90_hours"] for i in items]),
        ],
        "axes": _axes(group_by, "hours from assigned to acted"),
        "precision": None,  # waits are fractional hours: let the axis choose its steps
    }
    slowest = max(
        (i for i in items if i["p90_hours"] is not None),
        key=lambda i: Decimal(i["p90_hours"]),
        default=None,
    )
    rescued = sum(i["rescued_after_overdue"] for i in items)
    return Figure(
        caption=f"Hours from assigned to acted, overdue and escalated steps per {group_by}",
        columns=columns,
        rows=rows,
        chart=chart,
        summary=(
            f"Bar chart per {group_by}: the median and the 90th percentile of the hours a "
            "step waited from becoming current to being acted on. "
            + (
                f"Slowest at p90: {slowest['key']} ({slowest['p90_hours']} hours). "
                if slowest
                else "No step was acted on in this window. "
            )
            + f"Overrides around the owner after a step went overdue: {rescued}."
        ),
        notes=[
            "A group with steps but none acted on has no median and no bar.",
            "Rescued after overdue counts overrides around the owner filed after a step of "
            "the group fell due on the same request: the stall that invites the swoop.",
        ],
    )
