"""Fiscal periods: named by the year they end in, quarters from the start, windows inclusive."""

from __future__ import annotations

from datetime import date

import pytest

from api.policy.period import fiscal_period

CASES = [
    # today, start (m, d), window, (fy, q, to_q_end, to_y_end, q_end?, y_end?)
    ("2026-12-29", (2, 1), 14, (2027, 4, 33, 33, False, False)),
    ("2027-01-18", (2, 1), 14, (2027, 4, 13, 13, True, True)),
    ("2027-01-17", (2, 1), 14, (2027, 4, 14, 14, False, False)),
    ("2027-01-31", (2, 1), 14, (2027, 4, 0, 0, True, True)),
    ("2026-02-01", (2, 1), 14, (2027, 1, 88, 364, False, False)),
    ("2026-04-30", (2, 1), 14, (2027, 1, 0, 276, True, False)),
    ("2026-05-01", (2, 1), 14, (2027, 2, 91, 275, False, False)),
    ("2026-03-31", (1, 1), 14, (2026, 1, 0, 275, True, False)),
    ("2026-12-31", (1, 1), 0, (2026, 4, 0, 0, False, False)),
    ("2024-02-29", (3, 1), 1, (2024, 4, 0, 0, True, True)),
]


@pytest.mark.parametrize(
    ("today", "start", "window", "expected"),
    CASES,
    ids=[c[0] + f"-start{c[1][0]:02}" for c in CASES],
)
def test_fiscal_period(
    today: str, start: tuple[int, int], window: int, expected: tuple[int, int, int, int, bool, bool]
) -> None:
    period = fiscal_period(date.fromisoformat(today), start[0], start[1], window)
    assert (
        period.fiscal_year,
        period.fiscal_quarter,
        period.days_to_quarter_end,
        period.days_to_year_end,
        period.is_quarter_end,
        period.is_year_end,
    ) == expected
