"""Decision ids are RFC 9562 version 7: the time first, so the log's index grows at one end."""

from __future__ import annotations

import time
import uuid

from api.ids import uuid7


def test_an_id_carries_its_millisecond_version_and_variant() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after


def test_ids_are_unique_and_random_below_the_time() -> None:
    made = [uuid7() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    low_bits = {m.int & ((1 << 62) - 1) for m in made}
    assert len(low_bits) == len(made)


def test_ids_of_later_milliseconds_sort_after_as_text_bytes_and_numbers() -> None:
    made = []
    for _ in range(5):
        made.append(uuid7())
        time.sleep(0.002)
    assert sorted(made) == made
    assert sorted(made, key=lambda m: m.bytes) == made  # PostgreSQL's uuid order
    assert sorted(made, key=str) == made
