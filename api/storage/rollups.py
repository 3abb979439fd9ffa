"""Monthly rollups of the report queries, so a report over all time reads a few thousand
rows instead of millions.

The report history is append-only and dated by the real UTC clock (`created_on`,
`acted_on`), so a month that has ended never changes again. `ensure_rolled` sums each month
that ended at least GRACE_DAYS ago (so no transaction still in flight can add to it) into
the rollup tables, once, under an advisory lock, and notes how far it got in
`report_rollups`. A read then takes whole rolled months from the rollup and the rest of its
range (the current months, or a partial month at either end) from the rows themselves.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg
from psycopg import sql

ROLLUP_LOCK = 7_451_015
GRACE_DAYS = 2


@dataclass(frozen=True, slots=True)
class Rollup:
    """One report query, summable by month: its grouping keys, summed measures, and the
    statement that computes them over a date range (`%(from)s` .. `%(to)s`)."""

    name: str
    keys: tuple[str, ...]
    measures: tuple[str, ...]
    source: str
    first_day: str
    """SELECT of the earliest date the source holds (NULL when empty)."""


ROLLUPS = {
    r.name: r
    for r in (
        Rollup(
            "offsets",
            ("lever", "requester_tier", "owner_id", "offset"),
            ("n",),
            "SELECT lever, requester_tier, owner_id, value - ceiling AS offset, count(*) AS n "
            "FROM ask_levers WHERE created_on BETWEEN %(from)s AND %(to)s GROUP BY 1, 2, 3, 4",
            "SELECT min(created_on) FROM asks",
        ),
        Rollup(
            "submissions",
            ("fiscal_year", "fiscal_quarter", "bucket"),
            ("n",),
            "SELECT fiscal_year, fiscal_quarter, "
            "width_bucket(days_to_quarter_end, %(bounds)s::int[]) AS bucket, count(*) AS n "
            "FROM asks "
            "WHERE kind = 'submission' AND created_on BETWEEN %(from)s AND %(to)s "
            "GROUP BY 1, 2, 3",
            "SELECT min(created_on) FROM asks",
        ),
        Rollup(
            "submitted_values",
            ("lever", "fiscal_year", "fiscal_quarter", "bucket", "value"),
            ("n",),
            "SELECT lever, fiscal_year, fiscal_quarter, "
            "width_bucket(days_to_quarter_end, %(bounds)s::int[]) AS bucket, value, "
            "count(*) AS n FROM ask_levers "
            "WHERE kind = 'submission' AND created_on BETWEEN %(from)s AND %(to)s "
            "GROUP BY 1, 2, 3, 4, 5",
            "SELECT min(created_on) FROM asks",
        ),
        Rollup(
            "override_buckets",
            ("fiscal_year", "fiscal_quarter", "bucket"),
            ("n", "excess"),
            "SELECT fiscal_year, fiscal_quarter, "
            "width_bucket(days_to_quarter_end, %(bounds)s::int[]) AS bucket, count(*) AS n, "
            "sum(excess_value) AS excess FROM overrides "
            "WHERE created_on BETWEEN %(from)s AND %(to)s AND days_to_quarter_end IS NOT NULL "
            "GROUP BY 1, 2, 3",
            "SELECT min(created_on) FROM overrides",
        ),
        Rollup(
            "asks",
            ("owner_id", "kind", "slipped", "flags"),
            ("n",),
            "SELECT owner_id, kind, slipped, flags, count(*) AS n FROM asks "
            "WHERE created_on BETWEEN %(from)s AND %(to)s GROUP BY 1, 2, 3, 4",
            "SELECT min(created_on) FROM asks",
        ),
        Rollup(
            "actions",
            ("actor_id", "action"),
            ("n",),
            "SELECT actor_id, action, count(*) AS n FROM step_actions "
            "WHERE acted_on BETWEEN %(from)s AND %(to)s GROUP BY 1, 2",
            "SELECT min(acted_on) FROM step_actions",
        ),
        Rollup(
            "categories",
            ("executive_id", "category"),
            ("n",),
            "SELECT executive_id, c.category, count(*) AS n "
            "FROM overrides, unnest(categories) AS c(category) "
            "WHERE created_on BETWEEN %(from)s AND %(to)s GROUP BY 1, 2",
            "SELECT min(created_on) FROM overrides",
        ),
    )
}
STATE = "SELECT name, through FROM report_rollups"
SET_STATE = """
INSERT INTO report_rollups (name, through) VALUES (%s, %s)
ON CONFLICT (name) DO UPDATE SET through = EXCLUDED.through
"""


def _table(rollup: Rollup) -> sql.Identifier:
    return sql.Identifier(f"rollup_{rollup.name}")


def _month_end(day: date) -> date:
    """The last day of `day`'s month (9999-12 included)."""
    if day.month == 12:
        return date(day.year, 12, 31)
    return date(day.year, day.month + 1, 1) - timedelta(days=1)


def rolled_through(conn: psycopg.Connection) -> dict[str, date]:
    return {name: through for name, through in conn.execute(STATE).fetchall()}


def ensure_rolled(
    conn: psycopg.Connection,
    today: date,
    params: dict[str, Any],
    budget_s: float | None = None,
) -> None:
    """Roll up every month that ended GRACE_DAYS or more before `today` (UTC), oldest
    first, unless another transaction is doing it right now (then reads use the rows).
    With `budget_s`, stop after the month that used it up: a later call goes on, and reads
    are exact either way (unrolled months are read from the rows)."""
    last = (today - timedelta(days=GRACE_DAYS)).replace(day=1) - timedelta(days=1)
    state = rolled_through(conn)
    behind = [r for r in ROLLUPS.values() if state.get(r.name, date.min) < last]
    if not behind:
        return
    if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (ROLLUP_LOCK,)).fetchone()[0]:  # type: ignore[index]
        return
    state = rolled_through(conn)  # as of now, under the lock
    started = time.monotonic()
    for rollup in behind:
        done = state.get(rollup.name)
        if done is None:
            first = conn.execute(rollup.first_day).fetchone()[0]  # type: ignore[index]
            month = first.replace(day=1) if first else last + timedelta(days=1)
        else:
            month = done + timedelta(days=1)
        columns = sql.SQL(", ").join(map(sql.Identifier, ("month", *rollup.keys, *rollup.measures)))
        insert = sql.SQL("INSERT INTO {} ({}) SELECT %(month)s, s.* FROM ({}) s").format(
            _table(rollup),
            columns,
            sql.SQL(rollup.source),
        )
        while month <= last:
            end = _month_end(month)
            conn.execute(insert, {**params, "month": month, "from": month, "to": end})
            conn.execute(SET_STATE, (rollup.name, end))
            month = end + timedelta(days=1)
            if budget_s is not None and time.monotonic() - started > budget_s:
                return
        conn.execute(SET_STATE, (rollup.name, last))


def _whole_months(start: date, end: date) -> tuple[date, date] | None:
    """The first and last day of the whole months inside start .. end (None at the calendar's
    edges, where the rows alone answer)."""
    try:
        first = start if start.day == 1 else _month_end(start) + timedelta(days=1)
        last = end if _month_end(end) == end else end.replace(day=1) - timedelta(days=1)
    except OverflowError:
        return None
    return first, last


def read(
    conn: psycopg.Connection,
    name: str,
    group: Sequence[str],
    where: dict[str, Any],
    params: dict[str, Any],
    start: date,
    end: date,
) -> list[tuple[Any, ...]]:
    """The source's measures summed by `group` over start .. end, with `where` (column ->
    value) applied: whole rolled months from the rollup, the rest from the rows."""
    rollup = ROLLUPS[name]
    through = rolled_through(conn).get(name)
    pieces: list[tuple[str, date, date]] = [("rows", start, end)]
    span = _whole_months(start, end) if through is not None else None
    if through is not None and span is not None:
        first, last = span[0], min(span[1], through)
        if first <= last:
            pieces = [("rollup", first, last.replace(day=1))]
            if start < first:
                pieces.append(("rows", start, first - timedelta(days=1)))
            if last < end:
                pieces.append(("rows", last + timedelta(days=1), end))
    values: dict[str, Any] = {**params, **where}
    parts = []
    for i, (kind, low, high) in enumerate(pieces):
        parts.append(_query(rollup, kind, group, where, f"_{i}"))
        values.update({f"from_{i}": low, f"to_{i}": high})
    columns = sql.SQL(", ").join(map(sql.Identifier, group))
    query = sql.SQL("SELECT {}, {} FROM ({}) AS pieces GROUP BY {}").format(
        columns, _sums(rollup), sql.SQL(" UNION ALL ").join(parts), columns
    )
    return [tuple(row) for row in conn.execute(query, values).fetchall()]


def _sums(rollup: Rollup) -> sql.Composable:
    return sql.SQL(", ").join(  # counts stay integers (a sum of bigint is numeric)
        sql.SQL("sum({0})::bigint AS {0}" if m == "n" else "sum({0}) AS {0}").format(
            sql.Identifier(m)
        )
        for m in rollup.measures
    )


def _query(
    rollup: Rollup, kind: str, group: Sequence[str], where: dict[str, Any], suffix: str
) -> sql.Composed:
    """One piece of a read: `group` and the summed measures over from/to`suffix`."""
    columns = sql.SQL(", ").join(map(sql.Identifier, group))
    filters: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
        for column in where
    ]
    span = (f"%(from{suffix})s", f"%(to{suffix})s")
    if kind == "rollup":
        source: sql.Composable = _table(rollup)
        filters.append(sql.SQL(f"month BETWEEN {span[0]} AND {span[1]}"))
    else:
        text = rollup.source.replace("%(from)s", span[0]).replace("%(to)s", span[1])
        source = sql.SQL("({}) AS s").format(sql.SQL(text))
    clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(filters) if filters else sql.SQL("")
    return sql.SQL("(SELECT {}, {} FROM {}{} GROUP BY {})").format(
        columns, _sums(rollup), source, clause, columns
    )
