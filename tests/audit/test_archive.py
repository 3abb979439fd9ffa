"""The archive's pure checks: PostgreSQL's time text, manifests, and a segment's walk."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from api.audit.archive import BadArchive, Manifest, Problem, Walk, event_line, pg_time
from api.audit.chain import GENESIS, Event, chain_hash


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2025-01-01T00:00:00.000000Z", "2025-01-01 00:00:00+00"),
        ("2025-01-01T00:00:00.001000Z", "2025-01-01 00:00:00.001+00"),
        ("2026-12-05T13:04:59.123456Z", "2026-12-05 13:04:59.123456+00"),
        ("2026-12-05T13:04:59.100010Z", "2026-12-05 13:04:59.10001+00"),
    ],
)
def test_pg_time_is_postgresql_iso_output_in_utc(at: str, expected: str) -> None:
    assert pg_time(at) == expected


def test_a_manifest_must_hold_exactly_its_fields() -> None:
    good = {"first_id": 1, "last_id": 2, "first_prev_hash": GENESIS, "last_hash": "a",
            "rows": 2, "sha256": "b"}  # fmt: skip
    assert Manifest.parse(json.dumps(good).encode()) == Manifest(1, 2, GENESIS, "a", 2, "b")
    with pytest.raises(ValueError, match="must hold exactly first_id, last_id"):
        Manifest.parse(json.dumps({**good, "extra": 1}).encode())
    with pytest.raises(ValueError, match="has a field of the wrong type"):
        Manifest.parse(json.dumps({**good, "rows": "2"}).encode())
    with pytest.raises(ValueError, match="is not JSON"):
        Manifest.parse(b"{")


def lines(n: int) -> list[bytes]:
    out, prev = [], GENESIS
    at = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    for i in range(1, n + 1):
        payload = {"i": i, "z": [1, {"b": None, "a": "é"}]}
        digest = chain_hash(prev, i, at, "t", "actor", f"s:{i}", payload)
        out.append(
            event_line(Event(i, at, "t", "actor", f"s:{i}", payload, prev, digest).as_dict())
        )
        prev = digest
    return out


def test_a_walk_counts_a_good_segment_and_names_a_reordered_event() -> None:
    walk = Walk()
    assert walk.lines("seg", lines(4)) == (4, 1)
    assert (walk.last_id, walk.events) == (4, 4)
    swapped = lines(4)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    with pytest.raises(BadArchive) as caught:
        Walk().lines("seg", swapped)
    assert caught.value.problem == Problem("seg", 3, "prev_hash is not the previous event's hash")


def test_a_line_that_is_not_an_event_is_named_by_number() -> None:
    with pytest.raises(BadArchive) as caught:
        Walk().lines("seg", [*lines(2), b'{"id": 3}'])
    assert str(caught.value) == "seg: line 3 is not an audit event"
    with pytest.raises(BadArchive) as caught:
        Walk().lines("seg", [b"garbage"])
    assert str(caught.value) == "seg: line 1 is not JSON"
