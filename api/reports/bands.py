"""Threshold hugging: offsets from the requester's own ceiling, in bands, and bunching."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api.reports.numbers import ratio_text

BANDS = 5
BAND_KEYS = tuple(str(k) for k in range(-BANDS, 0)) + tuple(str(k) for k in range(1, BANDS + 1))
"""The bands object's keys, "-5" .. "-1", "1" .. "5", in display order."""
FLAG_RATIO = Decimal(2)
FLAG_MIN_COUNT = 10


def band_of(offset: Decimal, width: Decimal) -> int:
    """The band of an offset (value - ceiling): band -k holds (-k*w, -(k-1)*w] and band +k
    holds ((k-1)*w, k*w]. An offset of exactly 0 is band -1 (at the ceiling); exactly -w is
    band -2. May be beyond +-5: such offsets count only in `asks`."""
    if width <= 0:
        raise ValueError("band width must be positive")
    if offset <= 0:
        return -int((-offset) // width) - 1
    whole, rest = divmod(offset, width)
    return int(whole) + (1 if rest else 0)


@dataclass(frozen=True, slots=True)
class Proximity:
    """One group's bands, asks, bunching and flag."""

    bands: dict[str, int]
    asks: int
    bunching: Decimal | None

    @property
    def flagged(self) -> bool:
        """bunching >= 2 and count(-1) >= 10 (DESIGN section 9)."""
        return (
            self.bunching is not None
            and self.bunching >= FLAG_RATIO
            and self.bands["-1"] >= FLAG_MIN_COUNT
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "bands": dict(self.bands),
            "asks": self.asks,
            "bunching": ratio_text(self.bunching),
            "flagged": self.flagged,
        }


def proximity(offsets: Iterable[tuple[Decimal, int]], width: Decimal) -> Proximity:
    """Bands of a counted histogram of offsets; bunching = count(-1) / mean(count(-2),
    count(-3)), None when that mean is 0."""
    bands = dict.fromkeys(BAND_KEYS, 0)
    asks = 0
    for offset, count in offsets:
        asks += count
        key = str(band_of(offset, width))
        if key in bands:
            bands[key] += count
    below = bands["-2"] + bands["-3"]
    bunching = None if below == 0 else Decimal(2 * bands["-1"]) / Decimal(below)
    return Proximity(bands, asks, bunching)
