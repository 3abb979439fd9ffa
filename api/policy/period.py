"""Fiscal periods: which fiscal year and quarter a date falls in, and how close its end is."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Period:
    fiscal_year: int
    fiscal_quarter: int
    days_to_quarter_end: int
    days_to_year_end: int
    is_quarter_end: bool
    is_year_end: bool

    @property
    def is_period_end(self) -> bool:
        return self.is_quarter_end or self.is_year_end

    @property
    def label(self) -> str:
        return f"FY{self.fiscal_year}-Q{self.fiscal_quarter}"

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "fiscal_year": self.fiscal_year,
            "fiscal_quarter": self.fiscal_quarter,
            "days_to_quarter_end": self.days_to_quarter_end,
            "days_to_year_end": self.days_to_year_end,
            "is_quarter_end": self.is_quarter_end,
            "is_year_end": self.is_year_end,
        }


def add_months(day: date, months: int) -> date:
    """The same day-of-month `months` later, clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@lru_cache(maxsize=4096)
def fiscal_period(today: date, start_month: int, start_day: int, period_end_days: int) -> Period:
    """The fiscal period of `today` for a fiscal year starting on start_month/start_day.

    A fiscal year is named by the calendar year in which it ends; quarters are the 3-month
    blocks from its start, numbered 1-4.
    """
    year_start = _clamped(today.year, start_month, start_day)
    if today < year_start:
        year_start = _clamped(today.year - 1, start_month, start_day)
    year_end = add_months(year_start, 12) - timedelta(days=1)
    quarter = 1
    while today > add_months(year_start, 3 * quarter) - timedelta(days=1):
        quarter += 1
    quarter_end = add_months(year_start, 3 * quarter) - timedelta(days=1)
    to_quarter_end = (quarter_end - today).days
    to_year_end = (year_end - today).days
    return Period(
        fiscal_year=year_end.year,
        fiscal_quarter=quarter,
        days_to_quarter_end=to_quarter_end,
        days_to_year_end=to_year_end,
        is_quarter_end=to_quarter_end < period_end_days,
        is_year_end=to_year_end < period_end_days,
    )


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def quarter_bounds(
    fiscal_year: int, fiscal_quarter: int, start_month: int, start_day: int
) -> tuple[date, date]:
    """The first and last day of a fiscal quarter (FY named by the year its last day is in)."""
    year_start = _clamped(fiscal_year - 1, start_month, start_day)
    if (add_months(year_start, 12) - timedelta(days=1)).year != fiscal_year:
        year_start = _clamped(fiscal_year, start_month, start_day)
    first = add_months(year_start, 3 * (fiscal_quarter - 1))
    return first, add_months(year_start, 3 * fiscal_quarter) - timedelta(days=1)
