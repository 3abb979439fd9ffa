"""`dealdesk decisions archive --before YYYY-MM --to DIR`: archive, then drop.

Each whole month before `before` is streamed (COPY ... TO STDOUT as CSV, parsed by Arrow in
blocks of 16 MB, a Parquet row group each: memory stays flat whatever the month holds) to
its file and manifest, read back and checked (sha256, rows, id range, and rows against the
database), and only then removed: its partition detached CONCURRENTLY and dropped, or, when
legacy rows of the month exist too, those deleted and the partition detached and dropped in
one transaction. Interrupted anywhere, the month stays in the database or its checked file
stays on disk; run again, it finishes: a month still in the database is written again unless
a checked file of exactly its rows is already there, a detach left pending is FINALIZEd, a
detached table left behind is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from api.errors import Invalid, Unavailable
from api.service import archive_files as files
from api.storage import archives, partitions
from api.storage.migrate import LOCK_TIMEOUT_MS, SCHEMA_VERSION, in_transaction, wait_for_lock

log = logging.getLogger("dealdesk.archive")
ARCHIVE_LOCK = 7_451_027


@dataclass(frozen=True, slots=True)
class Archived:
    month: date
    rows: int
    written: bool  # False: a checked file from an earlier, interrupted run was kept


def this_month() -> date:
    today = datetime.now(UTC).date()
    return date(today.year, today.month, 1)


def archive_before(url: str, before: date, directory: Path) -> list[Archived]:
    """Archive and drop every whole month before `before` (never the current month)."""
    if before > this_month():
        raise Invalid(
            "Only whole months can be archived.",
            {"before": [f"must not be after the current month ({this_month():%Y-%m})"]},
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{LOCK_TIMEOUT_MS}ms",))
        wait_for_lock(conn, ARCHIVE_LOCK)  # one archiver at a time, fleet-wide
        try:
            months = archives.months_before(conn, before)
            return [archive_month(conn, m, directory) for m in months]
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
            raise Unavailable(
                "A lock on the decision log stayed busy; run the archive again: it finishes "
                "where it stopped."
            ) from None
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ARCHIVE_LOCK,))


def archive_month(conn: psycopg.Connection, month: date, directory: Path) -> Archived:
    own, legacy = archives.counts(conn, month)
    in_db = own + legacy
    manifest = files.read_manifest(directory, month)
    present = in_db > 0 or partitions.month_name(month) in _attached(conn)
    written = False
    if present and not _kept(directory, manifest, in_db):
        manifest = files.write(directory, month, _sources(conn, month), SCHEMA_VERSION)
        written = True
    if manifest is None:
        return Archived(month, 0, False)  # nothing of it anywhere
    files.verify(directory, manifest)
    if present and manifest.rows != in_db:
        raise files.ArchiveError(f"{month:%Y-%m}: the file holds {manifest.rows} rows, not {in_db}")
    _drop(conn, month, legacy)
    log.info("archived %s: %d rows", f"{month:%Y-%m}", manifest.rows)
    return Archived(month, manifest.rows, written)


def _kept(directory: Path, manifest: files.Manifest | None, in_db: int) -> bool:
    """A file from an earlier run may stand if it checks out and holds as many rows."""
    if manifest is None or manifest.rows != in_db:
        return False
    try:
        files.verify(directory, manifest)
    except files.ArchiveError:
        return False
    return True


def _sources(conn: psycopg.Connection, month: date) -> Iterator[Iterator[bytes]]:
    """One CSV stream per place the month's rows are, read in one snapshot."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for query in archives.sources(conn, month):
            yield archives.copy_chunks(conn, query)


def _attached(conn: psycopg.Connection) -> set[str]:
    return {p.name for p in partitions.parts(conn) if not p.detach_pending}


def _drop(conn: psycopg.Connection, month: date, legacy: int) -> None:
    name = partitions.month_name(month)
    pending = {p.name for p in partitions.parts(conn) if p.detach_pending}
    if name in pending:
        partitions.finalize_detach(conn, name)
    if legacy:

        def together(c: psycopg.Connection) -> None:
            archives.delete_legacy(c, month)
            if name in _attached(c):
                partitions.detach_month(c, name, concurrently=False)
                partitions.drop_table(c, name)

        in_transaction(conn, together)
    elif name in _attached(conn):
        partitions.detach_month(conn, name, concurrently=True)
    if name in archives.unattached(conn):
        in_transaction(conn, lambda c: partitions.drop_table(c, name))
