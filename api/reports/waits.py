"""Where a percentile's rank falls in counted wait buckets: numbers in, numbers out.

The approval-times report keeps, per group, how many waits fall in each bucket; the value at
a rank is then the (rank - waits in earlier buckets)-th wait of one bucket, which the
database reads exactly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GroupTotals:
    """One group's counts, and its acted-on waits per bucket (all, and period-end only)."""

    steps: int = 0
    acted: int = 0
    overdue: int = 0
    escalated: int = 0
    waits: dict[int, int] = field(default_factory=dict)
    window_waits: dict[int, int] = field(default_factory=dict)

    @property
    def window_acted(self) -> int:
        return sum(self.window_waits.values())


def group_totals(rows: Iterable[tuple[Any, ...]]) -> dict[str, GroupTotals]:
    """Rows of (key, period_end, bucket (-1: not acted), steps, overdue, escalated)."""
    groups: dict[str, GroupTotals] = {}
    for key, period_end, bucket, steps, overdue, escalated in rows:
        group = groups.setdefault(str(key), GroupTotals())
        group.steps += steps
        group.overdue += overdue
        group.escalated += escalated
        if bucket >= 0:
            group.acted += steps
            group.waits[bucket] = group.waits.get(bucket, 0) + steps
            if period_end:
                group.window_waits[bucket] = group.window_waits.get(bucket, 0) + steps
    return groups


def rank(pct: int, count: int) -> int:
    """The nearest rank of the pct-th percentile among `count` values: ceil(pct/100 * N)."""
    return max(-(-pct * count // 100), 1)


def locate(buckets: Mapping[int, int], position: int) -> tuple[int, int]:
    """The bucket holding the `position`-th smallest value (1-based), and how many of that
    bucket's values come before it."""
    seen = 0
    for bucket in sorted(buckets):
        if seen + buckets[bucket] >= position:
            return bucket, position - seen - 1
        seen += buckets[bucket]
    raise ValueError(f"position {position} is beyond the {seen} values counted")
