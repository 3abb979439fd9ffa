"""The period-end mad dash: days to quarter end at submission, in fixed buckets."""

from __future__ import annotations

from datetime import date, timedelta

BUCKETS = (("0-6", 0, 6), ("7-13", 7, 13), ("14-27", 14, 27), ("28-55", 28, 55), ("56+", 56, None))
BUCKET_NAMES = tuple(name for name, _, _ in BUCKETS)


def bucket_of(days_to_quarter_end: int) -> str:
    """The bucket a day falls in: 0-6, 7-13, 14-27, 28-55 or 56+."""
    for name, low, high in BUCKETS:
        if days_to_quarter_end >= low and (high is None or days_to_quarter_end <= high):
            return name
    raise ValueError(f"days to quarter end cannot be negative: {days_to_quarter_end}")


def quarter_key(fiscal_year: int, fiscal_quarter: int) -> str:
    """FY2027-Q3, as the overrides summary names quarters."""
    return f"FY{fiscal_year}-Q{fiscal_quarter}"


def days_covered(bucket: str, quarter: tuple[date, date], start: date | None, end: date) -> int:
    """How many days of `bucket` in the quarter (first, last day) lie in [start, end]: the
    divisor of requests per day, so that a bucket of 7 days compares with one of 28, and a
    quarter still running or cut by a date filter counts only the days it had."""
    first, last = quarter
    low, high = next((lo, hi) for name, lo, hi in BUCKETS if name == bucket)
    earliest = first if high is None else max(first, last - timedelta(days=high))
    latest = last - timedelta(days=low)
    if start is not None:
        earliest = max(earliest, start)
    latest = min(latest, end)
    return max(0, (latest - earliest).days + 1)
