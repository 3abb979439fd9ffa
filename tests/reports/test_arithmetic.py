"""The pure report arithmetic: band edges, bunching and its flag (on hand-counted and on
generated populations), buckets, nearest-rank p90, means and shares."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from api.reports.bands import BAND_KEYS, band_of, proximity
from api.reports.buckets import bucket_of, quarter_key
from api.reports.numbers import mean, nearest_rank, ratio_text, share

D = Decimal


@pytest.mark.parametrize(
    ("offset", "width", "band"),
    [
        pytest.param("0", "1", -1, id="exactly-0-is-band-minus-1"),
        pytest.param("-1", "1", -2, id="exactly-minus-1-with-band-1-is-band-minus-2"),
        pytest.param("-0.0001", "1", -1, id="just-under-0"),
        pytest.param("-0.9999", "1", -1, id="just-above-minus-1"),
        pytest.param("-1.0001", "1", -2, id="just-under-minus-1"),
        pytest.param("0.0001", "1", 1, id="just-over-0-is-band-1"),
        pytest.param("1", "1", 1, id="exactly-1-is-band-1"),
        pytest.param("1.0001", "1", 2, id="just-over-1-is-band-2"),
        pytest.param("-5", "1", -6, id="exactly-minus-5-is-out-at-minus-6"),
        pytest.param("-4.9999", "1", -5, id="just-inside-band-minus-5"),
        pytest.param("5", "1", 5, id="exactly-5-is-band-5"),
        pytest.param("-2", "2", -2, id="width-2-minus-2-is-band-minus-2"),
        pytest.param("-1", "0.5", -3, id="width-0.5-minus-1-is-band-minus-3"),
        pytest.param("0.25", "0.5", 1, id="width-0.5-quarter-is-band-1"),
    ],
)
def test_band_of(offset: str, width: str, band: int) -> None:
    assert band_of(D(offset), D(width)) == band


def test_band_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        band_of(D(0), D(0))


def test_proximity_counts_by_hand() -> None:
    # 12 at the ceiling, 3 one under, 2 two under, 1 far under, 1 over
    result = proximity([(D(0), 12), (D("-1.5"), 3), (D("-2.5"), 2), (D(-9), 1), (D(1), 1)], D(1))
    assert result.as_dict() == {
        "bands": {**dict.fromkeys(BAND_KEYS, 0), "-1": 12, "-2": 3, "-3": 2, "1": 1},
        "asks": 19,
        "bunching": "4.8",  # 12 / mean(3, 2)
        "flagged": True,
    }


@pytest.mark.parametrize(
    ("c1", "c2", "c3", "bunching", "flagged"),
    [
        pytest.param(10, 5, 5, "2", True, id="exactly-2-with-10-is-flagged"),
        pytest.param(9, 4, 5, "2", False, id="ratio-2-but-only-9-under"),
        pytest.param(10, 6, 5, "1.8182", False, id="ratio-under-2"),
        pytest.param(10, 0, 0, None, False, id="no-asks-below-means-no-ratio"),
        pytest.param(0, 0, 0, None, False, id="nothing-at-all"),
        pytest.param(30, 1, 0, "60", True, id="a-strong-spike"),
    ],
)
def test_bunching_and_its_flag(
    c1: int, c2: int, c3: int, bunching: str | None, flagged: bool
) -> None:
    histogram = [(D("-0.5"), c1), (D("-1.5"), c2), (D("-2.5"), c3)]
    result = proximity([h for h in histogram if h[1]], D(1))
    assert (result.as_dict()["bunching"], result.flagged) == (bunching, flagged)


def _population(rng: random.Random, spike: int) -> list[tuple[Decimal, int]]:
    """400 asks spread evenly over 8 bands below and 2 above the ceiling, in cents, plus
    `spike` extra asks just under it (within 0.5 of the ceiling)."""
    counts: dict[Decimal, int] = {}
    for _ in range(400):
        offset = D(rng.randint(-800, 199)) / 100
        counts[offset] = counts.get(offset, 0) + 1
    for _ in range(spike):
        offset = -D(rng.randint(0, 50)) / 100
        counts[offset] = counts.get(offset, 0) + 1
    return sorted(counts.items())


def _by_rule(histogram: list[tuple[Decimal, int]]) -> tuple[int, int, int]:
    """count(-1), count(-2), count(-3) straight from the definitions, without band_of."""
    c = [0, 0, 0]
    for offset, n in histogram:
        for k in (1, 2, 3):
            if -k < offset <= -(k - 1):
                c[k - 1] += n
    return c[0], c[1], c[2]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("spike", [0, 40, 120])
def test_generated_population_is_flagged_exactly_per_the_rule(seed: int, spike: int) -> None:
    histogram = _population(random.Random(seed), spike)
    c1, c2, c3 = _by_rule(histogram)
    result = proximity(histogram, D(1))
    assert (result.bands["-1"], result.bands["-2"], result.bands["-3"]) == (c1, c2, c3)
    assert result.asks == 400 + spike
    expected_flag = c2 + c3 > 0 and D(2 * c1) / D(c2 + c3) >= 2 and c1 >= 10
    assert result.flagged is expected_flag
    # an even spread (about 40 a band) is never flagged; 120 extra under the ceiling always is
    if spike == 0:
        assert not result.flagged
    if spike == 120:
        assert result.flagged


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, "0-6"),
        (6, "0-6"),
        (7, "7-13"),
        (13, "7-13"),
        (14, "14-27"),
        (27, "14-27"),
        (28, "28-55"),
        (55, "28-55"),
        (56, "56+"),
        (91, "56+"),
    ],
)
def test_buckets(days: int, bucket: str) -> None:
    assert bucket_of(days) == bucket


def test_quarter_key() -> None:
    assert quarter_key(2027, 3) == "FY2027-Q3"


@pytest.mark.parametrize(
    ("histogram", "p90"),
    [
        pytest.param([(D(v), 1) for v in range(1, 11)], D(9), id="1..10-rank-9"),
        pytest.param([(D(v), 1) for v in range(1, 21)], D(18), id="1..20-rank-18"),
        pytest.param([(D(v), 1) for v in range(1, 12)], D(10), id="1..11-rank-ceil-9.9-is-10"),
        pytest.param([(D("7.5"), 1)], D("7.5"), id="one-value"),
        pytest.param([(D(5), 9), (D(40), 1)], D(5), id="counted-9-of-10-low"),
        pytest.param([(D(5), 8), (D(40), 2)], D(40), id="counted-8-of-10-low"),
        pytest.param([], None, id="empty"),
    ],
)
def test_p90_by_nearest_rank(histogram: list[tuple[Decimal, int]], p90: Decimal | None) -> None:
    assert nearest_rank(histogram, 90) == p90


def test_mean_share_and_their_text() -> None:
    assert mean([(D(10), 2), (D(13), 1)]) == D(11)
    assert mean([]) is None
    assert ratio_text(share(1, 3)) == "0.3333"
    assert ratio_text(share(2, 3)) == "0.6667"
    assert ratio_text(share(3, 3)) == "1"
    assert ratio_text(share(0, 4)) == "0"
    assert ratio_text(D(100)) == "100"
    assert share(1, 0) is None
    assert ratio_text(None) is None
