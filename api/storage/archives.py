"""The rows of one month of the decision log, as `dealdesk decisions archive` reads them and
then removes them: the month's own partition (by id) plus the legacy partitions' rows whose
`created_at` falls in the month (api/storage/partitions.py explains the legacy ones)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg
from psycopg import sql

from api.storage import partitions

COLUMNS = (
    "id::text, (extract(epoch FROM created_at) * 1000000)::bigint, as_of, deal_id, "
    "requester_id, owner_id, kind, policy_sha256, outcome, input::text, output::text, "
    "shadow::text"
)  # created_at as microseconds since the epoch: no time zone or DateStyle to parse
UNATTACHED = """
SELECT c.relname FROM pg_class c
WHERE c.relname LIKE 'decisions\\_p%%' AND c.relkind = 'r'
  AND c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition
"""


def _window(month: date) -> tuple[datetime, datetime]:
    return partitions.month_start(month), partitions.month_start(partitions.add_months(month, 1))


def _legacy_filter(month: date) -> sql.Composed:
    start, end = _window(month)
    return sql.SQL("created_at >= {} AND created_at < {}").format(
        sql.Literal(start), sql.Literal(end)
    )


def sources(conn: psycopg.Connection, month: date) -> list[sql.Composed]:
    """One SELECT per place the month's rows are (its partition first, then legacy ones)."""
    found = []
    attached = {p.name for p in partitions.parts(conn) if not p.detach_pending}
    if partitions.month_name(month) in attached:
        found.append(
            sql.SQL("SELECT {} FROM {} ORDER BY id").format(
                sql.SQL(COLUMNS), sql.Identifier(partitions.month_name(month))
            )
        )
    for legacy in partitions.legacy_parts(conn):
        found.append(
            sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY id").format(
                sql.SQL(COLUMNS), sql.Identifier(legacy), _legacy_filter(month)
            )
        )
    return found


def copy_chunks(conn: psycopg.Connection, query: sql.Composed) -> Iterator[bytes]:
    """The query's rows as CSV, streamed by COPY in the chunks the server sends."""
    with (
        conn.cursor() as cur,
        cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)) as copy,
    ):
        for chunk in copy:
            yield bytes(chunk)


def counts(conn: psycopg.Connection, month: date) -> tuple[int, int]:
    """(rows in the month's attached partition, legacy rows of the month)."""
    attached = {p.name for p in partitions.parts(conn) if not p.detach_pending}
    name = partitions.month_name(month)
    own = partitions.count_rows(conn, name) if name in attached else 0
    legacy = 0
    for table in partitions.legacy_parts(conn):
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
                sql.Identifier(table), _legacy_filter(month)
            )
        ).fetchone()
        legacy += int(row[0]) if row else 0
    return own, legacy


def delete_legacy(conn: psycopg.Connection, month: date) -> None:
    for table in partitions.legacy_parts(conn):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {}").format(sql.Identifier(table), _legacy_filter(month))
        )


def months_before(conn: psycopg.Connection, before: date) -> list[date]:
    """Every month before `before` with rows, a partition, or a leftover of an archive."""
    months = set()
    for part in partitions.parts(conn):
        month = partitions.name_month(part.name)
        if month is not None and month < before:
            months.add(month)
    for (name,) in conn.execute(UNATTACHED).fetchall():
        month = partitions.name_month(name)
        if month is not None and month < before:
            months.add(month)
    months.update(legacy_months(conn, partitions.month_start(before)))
    return sorted(months)


def legacy_months(conn: psycopg.Connection, end: datetime | None = None) -> set[date]:
    """The UTC months of the legacy rows' created_at (before `end`): one index probe a month,
    never a scan of the legacy partitions."""
    found: set[date] = set()
    for table in partitions.legacy_parts(conn):
        probe = sql.SQL("SELECT min(created_at) FROM {} WHERE created_at >= {} AND {}")
        start = datetime(1970, 1, 1, tzinfo=UTC)
        while True:
            limit = (
                sql.SQL("true")
                if end is None
                else sql.SQL("created_at < {}").format(sql.Literal(end))
            )
            row = conn.execute(
                probe.format(sql.Identifier(table), sql.Literal(start), limit)
            ).fetchone()
            if row is None or row[0] is None:
                break
            at = row[0].astimezone(UTC)
            found.add(date(at.year, at.month, 1))
            start = partitions.month_start(partitions.add_months(date(at.year, at.month, 1), 1))
    return found


def unattached(conn: psycopg.Connection) -> set[str]:
    return {name for (name,) in conn.execute(UNATTACHED).fetchall()}


def months_in_database(conn: psycopg.Connection) -> set[date]:
    """Months whose rows the database still holds (a partition, or legacy rows)."""
    held = {m for p in partitions.parts(conn) if (m := partitions.name_month(p.name))}
    return held | legacy_months(conn)
