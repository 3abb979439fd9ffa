"""Commits that are not acknowledged: one PostgreSQL warned the standby never confirmed,
and one still waiting at DEALDESK_COMMIT_TIMEOUT_S (cancelled). Both raise Unavailable (503);
the real synchronous standby is in tests/system/test_failover.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from api.errors import Unavailable
from api.storage.database import UNCONFIRMED, open_pool, transaction

WARN = (
    "DO $$ BEGIN RAISE WARNING"
    " 'canceling wait for synchronous replication due to user request'; END $$"
)
SLOW_COMMIT = [
    "CREATE TEMP TABLE slow (x int) ON COMMIT DROP",
    "CREATE FUNCTION pg_temp.wait() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$",
    "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow DEFERRABLE INITIALLY DEFERRED"
    " FOR EACH ROW EXECUTE FUNCTION pg_temp.wait()",
    "INSERT INTO slow VALUES (1)",
]


@pytest.fixture()
def quick(database_url: str) -> Iterator[ConnectionPool]:
    pool = open_pool(database_url, max_size=1, commit_timeout_s=0.5)
    pool.wait(timeout=10)
    yield pool
    pool.close()


def test_the_warning_that_the_standby_was_given_up_on_is_not_a_success(
    quick: ConnectionPool,
) -> None:
    with pytest.raises(Unavailable) as caught, transaction(quick) as conn:
        conn.execute("SELECT 1")
        conn.execute(WARN)
    assert caught.value.detail == UNCONFIRMED
    with transaction(quick) as conn:  # the next transaction starts clean
        assert conn.execute("SELECT 2").fetchone() == (2,)
    # also on a statement that commits by itself (the decision-log writer's kind)
    with pytest.raises(Unavailable), transaction(quick) as conn:
        conn.autocommit = True
        conn.execute(WARN)


def test_an_ordinary_warning_is_not_mistaken_for_it(quick: ConnectionPool) -> None:
    with transaction(quick) as conn:
        conn.execute("DO $$ BEGIN RAISE WARNING 'something else'; END $$")
        assert conn.execute("SELECT 3").fetchone() == (3,)


def test_a_commit_still_waiting_at_the_timeout_is_cancelled(quick: ConnectionPool) -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught, transaction(quick) as conn:
        for statement in SLOW_COMMIT:
            conn.execute(statement)
    assert 0.5 <= time.monotonic() - started < 2.5
    assert caught.value.detail == "The database did not answer in time; retry shortly."
    with transaction(quick) as conn:  # the cancelled connection was replaced, not reused
        assert conn.execute("SELECT 4").fetchone() == (4,)
