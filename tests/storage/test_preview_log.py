"""Group commit of previews on a real PostgreSQL: every caller's row is committed before it
returns, stale registry generations write nothing, and one bad row spares its neighbours."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from api.errors import Invalid
from api.ids import uuid7
from api.policy.loader import PolicySet
from api.service.policy_sets import publish
from api.storage.database import transaction
from api.storage.decisions import Preview
from api.storage.preview_log import PreviewLog, _Slot
from api.storage.registry import current_generation


def preview(
    generation: int, output: bytes = b'{"outcome": "approved"}', policy_generation: int = 0
) -> Preview:
    return Preview(
        uuid7(),
        datetime.now(UTC),
        date(2026, 12, 29),
        "Q-1",
        "am.jones",
        "am.jones",
        b'{"deal": {"deal_id": "Q-1"}}',
        output,
        "approved",
        "sha",
        b"[]",
        generation,
        policy_generation,  # 0: nothing published, unless a test publishes
    )


@pytest.fixture()
def generation(db: str, pool: ConnectionPool) -> int:
    with transaction(pool) as conn:
        return current_generation(conn)


def stored(db: str) -> set[uuid.UUID]:
    with psycopg.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM decisions").fetchall()}


def test_concurrent_writers_all_commit_before_returning(
    pool: ConnectionPool, db: str, generation: int
) -> None:
    log = PreviewLog(pool)
    start = threading.Barrier(12)
    seen: dict[uuid.UUID, bool] = {}

    def one() -> None:
        start.wait()
        for _ in range(10):
            row = preview(generation)
            written = log.write(row)
            assert row.id in stored(db)  # committed by the time write() returned
            seen[row.id] = written

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 120
    assert all(seen.values())
    assert stored(db) == set(seen)


def test_a_stale_generation_writes_nothing(pool: ConnectionPool, db: str, generation: int) -> None:
    log = PreviewLog(pool)
    assert log.write(preview(generation - 1)) is False
    assert stored(db) == set()
    current = preview(generation)
    assert log.write(current) is True
    assert stored(db) == {current.id}


def test_a_stale_policy_generation_writes_nothing(
    pool: ConnectionPool, db: str, generation: int, shipped: PolicySet
) -> None:
    with transaction(pool) as conn:
        assert publish(conn, shipped, "test").generation == 1
    log = PreviewLog(pool)
    assert log.write(preview(generation, policy_generation=0)) is False
    assert stored(db) == set()
    current = preview(generation, policy_generation=1)
    assert log.write(current) is True
    assert stored(db) == {current.id}
    unchecked = PreviewLog(pool, check_policy=False)  # the bench's side-by-side run only
    blind = preview(generation, policy_generation=0)
    assert unchecked.write(blind) is True
    assert stored(db) == {current.id, blind.id}


def test_one_unstorable_row_spares_the_rest_of_its_batch(
    pool: ConnectionPool, db: str, generation: int
) -> None:
    log = PreviewLog(pool)
    good = [_Slot(preview(generation)) for _ in range(3)]
    bad = _Slot(preview(generation, output=b'{"outcome": "\\u0000"}'))  # jsonb refuses NUL
    log._flush([good[0], bad, good[1], good[2]])
    assert [s.written for s in good] == [True, True, True]
    assert (bad.written, type(bad.error)) == (False, Invalid)
    assert stored(db) == {s.preview.id for s in good}
