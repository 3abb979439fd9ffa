"""The approval-times report (DESIGN 14): how long each tier (or approver) takes to act,
how often steps go overdue or are escalated, and the overrides that followed a stall."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from api.policy.model import Policy
from api.reports.numbers import ratio_text
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


def hours(microseconds: int | None) -> str | None:
    """A wait as hours, a decimal string to four places (None when nothing was acted on)."""
    return None if microseconds is None else ratio_text(Decimal(microseconds) / US_PER_HOUR)


def rank(pct: int, count: int) -> int:
    """The nearest rank of the pct-th percentile among `count` values: ceil(pct/100 * N)."""
    return max(-(-pct * count // 100), 1)


def approval_times(
    conn: psycopg.Connection,
    policy: Policy,
    group_by: str,
    start: date | None,
    end: date | None,
) -> list[dict[str, Any]]:
    """Per tier (in the policy's order) or approver (by id), over steps that became current
    between `start` and `end` (UTC dates, inclusive). Medians are the 50th percentile by
    nearest rank (the lower middle value of an even count), like p90."""
    low, high = start or FIRST_DAY, end or LAST_DAY
    rescued = store.rescued_after_overdue(conn, group_by, low, high)

    def nth(key: str, pct: int, count: int, window: bool = False) -> str | None:
        if count == 0:
            return None
        found = store.nth_wait(conn, group_by, key, low, high, rank(pct, count), period_end=window)
        return hours(found)

    items = [
        {
            "key": key,
            "steps": steps,
            "acted": acted,
            "median_hours": nth(key, 50, acted),
            "p90_hours": nth(key, 90, acted),
            "overdue": overdue,
            "escalated": escalated,
            "period_end_median_hours": nth(key, 50, window_acted, window=True),
            "rescued_after_overdue": rescued.get(key, 0),
        }
        for key, steps, acted, overdue, escalated, window_acted in store.counts(
            conn, group_by, low, high
        )
    ]
    ranks = policy.ranks
    if group_by == "tier":
        return sorted(items, key=lambda i: (ranks.get(i["key"], len(ranks)), i["key"]))
    return sorted(items, key=lambda i: i["key"])
