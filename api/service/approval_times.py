"""The approval-times report (DESIGN 14): how long each tier (or approver) takes to act,
how often steps go overdue or are escalated, and the overrides that followed a stall."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from api.policy.model import Policy
from api.reports.numbers import ratio_text
from api.reports.waits import group_totals, locate, rank
from api.storage import approval_times as store
from api.storage.reports import FIRST_DAY, LAST_DAY

US_PER_HOUR = Decimal(3_600_000_000)
COLUMNS = [
    "key",
    "steps",
    "acted",
    "median_hours",
    "p90_hours",
    "overdue",
    "escalated",
    "period_end_median_hours",
    "rescued_after_overdue",
]
Items = list[dict[str, Any]]


def hours(microseconds: int | None) -> str | None:
    """A wait as hours, a decimal string to four places (None when nothing was acted on)."""
    return None if microseconds is None else ratio_text(Decimal(microseconds) / US_PER_HOUR)


def approval_times(
    conn: psycopg.Connection,
    policy: Policy,
    group_by: str,
    start: date | None,
    end: date | None,
) -> Items:
    """Per tier (in the policy's order) or approver (by id), over steps that became current
    between `start` and `end` (UTC dates, inclusive; all time when neither is given). A
    range holding every timing is answered from the running totals, like all time.
    Medians are the 50th percentile by nearest rank (of an even count, the lower middle)."""
    low, high = start or FIRST_DAY, end or LAST_DAY
    rescued = store.rescued_after_overdue(conn, group_by, low, high)
    if (start is None and end is None) or store.covers_all(conn, low, high):
        items = _all_time(conn, group_by)
    else:
        items = _in_range(conn, group_by, low, high)
    for item in items:
        item["rescued_after_overdue"] = rescued.get(item["key"], 0)
    ranks = policy.ranks
    if group_by == "tier":
        return sorted(items, key=lambda i: (ranks.get(i["key"], len(ranks)), i["key"]))
    return sorted(items, key=lambda i: i["key"])


def _in_range(conn: psycopg.Connection, group_by: str, low: date, high: date) -> Items:
    return [
        _item(
            key,
            steps,
            acted,
            pcts[0] if pcts else None,
            pcts[1] if pcts else None,
            overdue,
            escalated,
            window,
        )
        for key, steps, acted, pcts, overdue, escalated, window in store.in_range(
            conn, group_by, low, high
        )
    ]


def _all_time(conn: psycopg.Connection, group_by: str) -> Items:
    """From the running totals: each percentile's bucket, then one read for all the values."""
    groups = group_totals(store.totals(conn, group_by))
    wanted: list[tuple[str, int, int, bool]] = []
    slots: dict[tuple[str, str], int] = {}
    for key, group in groups.items():
        for name, buckets, pct, window in (
            ("median", group.waits, 50, False),
            ("p90", group.waits, 90, False),
            ("window", group.window_waits, 50, True),
        ):
            count = sum(buckets.values())
            if count:
                bucket, skip = locate(buckets, rank(pct, count))
                slots[key, name] = len(wanted)
                wanted.append((key, bucket, skip, window))
    values = store.at_ranks(conn, group_by, wanted)

    def value(key: str, name: str) -> int | None:
        slot = slots.get((key, name))
        return None if slot is None else values[slot]

    return [
        _item(
            key,
            g.steps,
            g.acted,
            value(key, "median"),
            value(key, "p90"),
            g.overdue,
            g.escalated,
            value(key, "window"),
        )
        for key, g in groups.items()
        if g.steps
    ]


def _item(
    key: str,
    steps: int,
    acted: int,
    median: int | None,
    p90: int | None,
    overdue: int,
    escalated: int,
    window: int | None,
) -> dict[str, Any]:
    return {
        "key": key,
        "steps": steps,
        "acted": acted,
        "median_hours": hours(median),
        "p90_hours": hours(p90),
        "overdue": overdue,
        "escalated": escalated,
        "period_end_median_hours": hours(window),
        "rescued_after_overdue": 0,
    }
