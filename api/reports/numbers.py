"""Exact statistics over counted histograms: (value, count) pairs, as SQL's GROUP BY gives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

from api.policy.decimals import decimal_str

PLACES = Decimal("0.0001")
"""Ratios and means are shown to four decimal places, rounded half up."""


def ratio_text(value: Decimal | None) -> str | None:
    """A ratio or mean as a decimal string to four places, trailing zeros dropped."""
    if value is None:
        return None
    rounded = value.quantize(PLACES, rounding=ROUND_HALF_UP)
    text = decimal_str(rounded.normalize()) if rounded != 0 else "0"
    return text


def share(part: int, whole: int) -> Decimal | None:
    """part / whole, or None when whole is 0."""
    return None if whole == 0 else Decimal(part) / Decimal(whole)


def mean(histogram: Iterable[tuple[Decimal, int]]) -> Decimal | None:
    """The mean of a counted histogram; None when it is empty."""
    total, count = Decimal(0), 0
    for value, n in histogram:
        total += value * n
        count += n
    return None if count == 0 else total / count


def nearest_rank(histogram: Sequence[tuple[Decimal, int]], pct: int) -> Decimal | None:
    """The pct-th percentile by nearest rank: the smallest value whose rank reaches
    ceil(pct / 100 * N). None for an empty histogram."""
    ordered = sorted((v, n) for v, n in histogram if n > 0)
    total = sum(n for _, n in ordered)
    if total == 0:
        return None
    rank = -(-pct * total // 100)  # ceil without floats
    rank = max(rank, 1)
    seen = 0
    for value, n in ordered:
        seen += n
        if seen >= rank:
            return value
    return ordered[-1][0]
