"""The audit_events table: appends (serialised, hash-chained) and ordered reads."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, TypeVar

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from api.audit.chain import GENESIS, ChainRow, Event, chain_hash

T = TypeVar("T")
APPEND_LOCK = 7_451_002

LOCK = "SELECT pg_advisory_xact_lock(%s)"
HEAD = """
SELECT (SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1),
       nextval('audit_events_id_seq'), clock_timestamp()
"""
INSERT = """
INSERT INTO audit_events (id, at, type, actor, subject, payload, prev_hash, hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
PAGE = """
SELECT id, at, type, actor, subject, payload, prev_hash, hash FROM audit_events
WHERE id > %s ORDER BY id LIMIT %s
"""
SINCE = """
SELECT id, at, type, actor, subject, payload, prev_hash, hash FROM audit_events
WHERE id > %s ORDER BY id
"""
CHAIN = """
SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), type, actor, subject,
       payload::text, prev_hash, hash
FROM audit_events ORDER BY id
"""
ARCHIVED = """
SELECT id, at::text, type, actor, subject, payload::text, prev_hash, hash FROM audit_events
WHERE id > %s AND id <= %s ORDER BY id
"""
UTC_ISO = "SET LOCAL timezone = 'UTC'; SET LOCAL datestyle = 'ISO'"
NEXT = "SELECT id, prev_hash FROM audit_events WHERE id > %s ORDER BY id LIMIT 1"


def append_event(
    conn: psycopg.Connection, type_: str, actor: str, subject: str, payload: Mapping[str, Any]
) -> Event:
    """Append one event in the caller's transaction.

    The advisory lock is held to commit, so concurrent writers, in any number of processes,
    append one after another and the chain never forks. Call it last in a transaction.
    """
    with conn.cursor() as cur:
        # One round trip; the server still runs them in order, and in READ COMMITTED the
        # head query takes its snapshot after the lock is granted, so it sees the last commit.
        with conn.pipeline():
            conn.execute(LOCK, (APPEND_LOCK,))
            cur.execute(HEAD)
        head = cur.fetchone()
    assert head is not None
    prev_hash, event_id, at = head[0] or GENESIS, head[1], head[2]
    digest = chain_hash(prev_hash, event_id, at, type_, actor, subject, payload)
    conn.execute(INSERT, (event_id, at, type_, actor, subject, Jsonb(payload), prev_hash, digest))
    return Event(event_id, at, type_, actor, subject, payload, prev_hash, digest)


def events_after(conn: psycopg.Connection, after: int, limit: int) -> list[Event]:
    with conn.cursor(row_factory=class_row(Event)) as cur:
        return cur.execute(PAGE, (after, limit)).fetchall()


def events_since(
    conn: psycopg.Connection, after: int, batch: int = 5000
) -> Generator[Event, None, None]:
    """Every event with id > `after`, oldest first, through a server-side cursor (the audit
    export: memory stays flat however long the chain)."""
    with conn.cursor(name="audit_export", row_factory=class_row(Event)) as cur:
        cur.execute(SINCE, (after,))
        yield from read_ahead(lambda: cur.fetchmany(batch))


def chain_rows(conn: psycopg.Connection, batch: int = 10000) -> Generator[ChainRow, None, None]:
    """Every event as verify needs it, oldest first, streamed through a server-side cursor.

    The time comes formatted by PostgreSQL and the payload as text: parsing them into
    Python objects only to print them again was most of verify's cost. The next batch is
    fetched on a helper thread while the caller checks this one, so PostgreSQL's share of
    the walk (about half) overlaps with the hashing instead of alternating with it."""
    with conn.cursor(name="audit_walk") as cur:
        cur.execute(CHAIN)
        yield from read_ahead(lambda: cur.fetchmany(batch))


def archived_rows(
    conn: psycopg.Connection, after: int, upto: int, batch: int = 10000
) -> Generator[ChainRow, None, None]:
    """Events after < id <= upto for comparing with an archive: as chain_rows, but the time
    is PostgreSQL's own ISO text in UTC (`2025-01-01 00:00:00.001+00`), which costs it
    less than half of to_char's work (api.audit.archive.pg_time gives the archive's in it)."""
    conn.execute(UTC_ISO)
    with conn.cursor(name="audit_archived") as cur:
        cur.execute(ARCHIVED, (after, upto))
        yield from read_ahead(lambda: cur.fetchmany(batch))


def next_event(conn: psycopg.Connection, after: int) -> tuple[int, str] | None:
    """(id, prev_hash) of the first event after `after`, if any."""
    row = conn.execute(NEXT, (after,)).fetchone()
    return (row[0], row[1]) if row else None


def read_ahead(fetch: Callable[[], list[T]]) -> Iterator[T]:
    """The items of successive `fetch()` batches (until an empty one), one batch fetched
    ahead on a helper thread. An error in `fetch` is raised here. The helper has finished
    before this returns, however the caller stops, so the cursor can then be closed."""
    batches: queue.Queue[list[T] | BaseException] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                rows = fetch()
                while not stop.is_set():
                    try:
                        batches.put(rows, timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if not rows:
                    return
        except BaseException as exc:  # handed to the reader, which raises it
            batches.put(exc)

    helper = threading.Thread(target=produce, name="audit-read-ahead", daemon=True)
    helper.start()
    try:
        while True:
            item = batches.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield from item
    finally:
        stop.set()
        while helper.is_alive():
            with contextlib.suppress(queue.Empty):
                batches.get_nowait()  # unblock a helper waiting to hand over a batch
            helper.join(0.01)
