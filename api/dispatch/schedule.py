"""When to try again: DESIGN's schedule with +-10% jitter, never sooner than Retry-After."""

from __future__ import annotations

import random

SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
"""Seconds after attempt 1, 2, ... 9; after the 10th attempt the delivery is failed."""
JITTER = 0.1
NO_SUCCESS_DISABLES_AFTER_S = 5 * 24 * 3600


def next_delay(
    tries: int,
    schedule: tuple[float, ...],
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after `tries` attempts, or None when none is left."""
    if tries > len(schedule):
        return None
    base = schedule[tries - 1]
    delay = base * (rng or random).uniform(1 - JITTER, 1 + JITTER)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay
