"""Monthly partitions of the decision log: this month and the next three exist, making them
again changes nothing, one process makes them at a time, and time-range reads are pruned."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import psycopg
import pytest

from api.storage import migrate as migration
from api.storage.decisions import replay_query
from api.storage.partitions import add_months, month_bound, month_name, parts
from tests.storage.planting import in_month, months_back, this_month, v4_sorting_at, v7_at


def test_this_month_and_the_next_three_exist(db: str) -> None:
    with psycopg.connect(db) as conn:
        found = {p.name: (p.lower, p.upper) for p in parts(conn)}
    for n in range(4):
        month = add_months(this_month(), n)
        assert found[month_name(month)] == (month_bound(month), month_bound(add_months(month, 1)))
    assert migration.maintain(db) == []  # all there already: nothing made, nothing changed
    with psycopg.connect(db) as conn:
        assert {p.name: (p.lower, p.upper) for p in parts(conn)} == found
        default = conn.execute(
            "SELECT count(*) FROM pg_partitioned_table WHERE partdefid <> 0"
        ).fetchone()
        assert default == (0,)  # no DEFAULT partition


def test_one_process_makes_partitions_at_a_time(server_url: str) -> None:
    from tests.storage.planting import scratch_database

    with scratch_database(server_url, "lock") as url:
        migration.migrate(url)
        with psycopg.connect(url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (migration.LOCK,))
            assert migration.maintain(url) is None  # another process holds it: skipped
            holder.execute("SELECT pg_advisory_unlock(%s)", (migration.LOCK,))
        with psycopg.connect(url) as conn:  # a month gone missing is made again
            conn.execute(f"DROP TABLE {month_name(add_months(this_month(), 3))}")
        assert migration.maintain(url) == [add_months(this_month(), 3)]


def test_an_insert_outside_every_partition_is_refused(db: str) -> None:
    far = v4_sorting_at(in_month(add_months(this_month(), 8)))
    with psycopg.connect(db) as conn, pytest.raises(psycopg.errors.CheckViolation) as caught:
        conn.execute(
            "INSERT INTO decisions (id, as_of, deal_id, requester_id, owner_id, input, output,"
            " outcome, policy_sha256)"
            " VALUES (%s, '2026-01-01', 'Q', 'a', 'a', '{}', '{}', 'x', 'y')",
            (far,),
        )
    assert "no partition of relation" in str(caught.value)


def plan(conn: psycopg.Connection, start: date, end: date) -> str:
    query = replay_query(conn, start, end)
    return "\n".join(row[0] for row in conn.execute(b"EXPLAIN " + query.as_bytes(conn)).fetchall())


def test_a_time_range_read_touches_only_its_partitions(db: str) -> None:
    month = this_month()
    day = month + timedelta(days=14)
    with psycopg.connect(db) as conn:
        conn.execute(
            "INSERT INTO decisions (id, created_at, as_of, deal_id, requester_id, owner_id, input,"
            " output, outcome, policy_sha256)"
            " VALUES (%s, %s, %s, 'Q', 'a', 'a', '{}', '{}', 'x', 'y')",
            (v7_at(in_month(month, 15)), in_month(month, 15), day),
        )
        one_day = plan(conn, day, day)
        assert month_name(month) in one_day
        for n in (1, 2, 3):
            assert month_name(add_months(month, n)) not in one_day
        by_time_only = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT id FROM decisions WHERE created_at >= %s::date "
                "AND created_at < %s::date + 1",
                (day, day),
            ).fetchall()
        )
        assert all(month_name(add_months(month, n)) in by_time_only for n in range(4))
        rows = list(conn.execute(replay_query(conn, day, day)).fetchall())
        assert len(rows) == 1


def test_months_back_are_pruned_too(db: str) -> None:
    with psycopg.connect(db) as conn:
        back = months_back(1)
        from api.storage.partitions import create_month

        create_month(conn, back)
        text = plan(conn, back + timedelta(days=10), back + timedelta(days=12))
        assert month_name(back) in text and month_name(this_month()) not in text
        conn.rollback()


def test_a_version_4_id_past_the_year_9999_still_has_a_lower_bound() -> None:
    from uuid import UUID

    from api.storage.partitions import lower_bound

    far = UUID("ffffffff-1234-4abc-8def-0123456789ab")  # a tenth of random ids read so
    assert lower_bound(far) == UUID("ffffffff-1234-0000-0000-000000000000")
    near = v4_sorting_at(in_month(date(2027, 2, 1), 20))
    assert lower_bound(near) == month_bound(date(2027, 2, 1))


def test_ddl_that_meets_a_busy_lock_is_retried_then_given_up(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.errors import Unavailable
    from tests.storage.planting import scratch_database

    missing = add_months(this_month(), 3)
    with scratch_database(server_url, "retry") as url:
        migration.migrate(url)
        with psycopg.connect(url) as conn:
            conn.execute(f"DROP TABLE {month_name(missing)}")
        holder = psycopg.connect(url)
        holder.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")  # a long transaction
        release = threading.Timer(1.5, holder.commit)
        release.start()
        started = time.monotonic()
        assert migration.migrate(url, lock_timeout_ms=200) == 1  # waited, retried, made it
        assert time.monotonic() - started >= 1.5
        release.join()
        with psycopg.connect(url) as conn:
            assert month_name(missing) in {p.name for p in parts(conn)}
            conn.execute(f"DROP TABLE {month_name(missing)}")
        holder.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
        monkeypatch.setattr(migration, "RETRIES", 2)
        with pytest.raises(Unavailable) as caught:
            migration.migrate(url, lock_timeout_ms=100)
        assert caught.value.detail == "a lock stayed busy through 2 tries; run the migration again"
        holder.rollback()
        holder.close()
