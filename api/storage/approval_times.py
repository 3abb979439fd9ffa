"""SQL of the approval-times report (DESIGN 14): step timings grouped by tier or approver.

Counts come from one grouped pass. A percentile is the value at its nearest rank, read by
walking the group's (key, waited_us) index to that rank, rather than by sorting every wait
of every group: at a million steps the walk reads a fraction of one index, where
`percentile_disc` sorted them all. Waits are whole microseconds, so ranks are exact."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg import sql

GROUPS = {"tier": "tier", "approver": "approver_id"}
COUNTS = """
SELECT {key} AS key, count(*) AS steps, count(waited_us) AS acted,
    count(*) FILTER (WHERE overdue) AS overdue,
    count(*) FILTER (WHERE escalated) AS escalated,
    count(waited_us) FILTER (WHERE period_end) AS period_end_acted
FROM step_timings
WHERE assigned_on BETWEEN %(from)s AND %(to)s
GROUP BY 1
"""
NTH = """
SELECT waited_us FROM step_timings
WHERE {key} = %(key)s AND waited_us IS NOT NULL AND assigned_on BETWEEN %(from)s AND %(to)s
    AND (period_end OR NOT %(window)s)
ORDER BY waited_us
OFFSET %(offset)s LIMIT 1
"""
RESCUED = """
SELECT t.{key} AS key, count(DISTINCT o.id) AS n
FROM step_timings t
JOIN overrides o ON o.request_id = t.request_id AND 'bypassed_owner' = ANY (o.categories)
WHERE t.overdue AND t.assigned_on BETWEEN %(from)s AND %(to)s
GROUP BY 1
"""


def counts(
    conn: psycopg.Connection, group_by: str, start: date, end: date
) -> list[tuple[Any, ...]]:
    """(key, steps, acted, overdue, escalated, period_end_acted) per group."""
    query = sql.SQL(COUNTS).format(key=sql.Identifier(GROUPS[group_by]))
    return conn.execute(query, {"from": start, "to": end}).fetchall()


def nth_wait(
    conn: psycopg.Connection,
    group_by: str,
    key: str,
    start: date,
    end: date,
    rank: int,
    *,
    period_end: bool = False,
) -> int | None:
    """The group's `rank`-th shortest wait (1-based) in microseconds, of steps assigned
    between start and end (only those in a period-end window with `period_end`)."""
    query = sql.SQL(NTH).format(key=sql.Identifier(GROUPS[group_by]))
    params = {"key": key, "from": start, "to": end, "window": period_end, "offset": rank - 1}
    row = conn.execute(query, params).fetchone()
    return None if row is None else int(row[0])


def rescued_after_overdue(
    conn: psycopg.Connection, group_by: str, start: date, end: date
) -> dict[str, int]:
    """Overrides around the owner on requests with an overdue step, by that step's group."""
    query = sql.SQL(RESCUED).format(key=sql.Identifier(GROUPS[group_by]))
    rows = conn.execute(query, {"from": start, "to": end}).fetchall()
    return {str(key): int(n) for key, n in rows}
