"""The period-end mad dash: days to quarter end at submission, in fixed buckets."""

from __future__ import annotations

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
