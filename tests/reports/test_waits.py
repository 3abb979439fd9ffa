"""Locating a percentile's rank in counted wait buckets (api/reports/waits.py)."""

from __future__ import annotations

import pytest

from api.reports.waits import GroupTotals, group_totals, locate, rank


@pytest.mark.parametrize(
    ("pct", "count", "expected"),
    [(50, 1, 1), (50, 4, 2), (50, 5, 3), (90, 5, 5), (90, 10, 9), (90, 11, 10), (50, 0, 1)],
)
def test_nearest_rank(pct: int, count: int, expected: int) -> None:
    assert rank(pct, count) == expected


BUCKETS = {3: 2, 7: 1, 12: 4}


@pytest.mark.parametrize(
    ("position", "expected"),
    [(1, (3, 0)), (2, (3, 1)), (3, (7, 0)), (4, (12, 0)), (7, (12, 3))],
)
def test_locate(position: int, expected: tuple[int, int]) -> None:
    assert locate(BUCKETS, position) == expected


def test_locate_beyond_the_counts() -> None:
    with pytest.raises(ValueError, match="position 8 is beyond the 7 values counted"):
        locate(BUCKETS, 8)


def test_group_totals() -> None:
    rows = [
        ("sd", False, -1, 2, 1, 1),
        ("sd", False, 5, 3, 1, 0),
        ("sd", True, 5, 1, 0, 0),
        ("sd", True, 9, 2, 0, 1),
        ("sm", False, 1, 1, 0, 0),
    ]
    groups = group_totals(rows)
    assert groups["sd"] == GroupTotals(8, 6, 2, 2, {5: 4, 9: 2}, {5: 1, 9: 2})
    assert (groups["sd"].window_acted, groups["sm"].acted) == (3, 1)
