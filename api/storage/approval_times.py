"""SQL of the approval-times report (DESIGN 14): step timings grouped by tier or approver.

Over all time, the counts come from `step_timing_totals` (acted-on waits, kept by triggers;
the few steps not acted on yet are counted as they are), which also
say in which wait bucket each percentile's rank falls; the exact value is then read by
walking that one bucket through the (group, bucket, wait) index: a few small reads however
many steps there are. Over a date range the timings themselves are aggregated
(`percentile_disc` is the nearest rank). Waits are whole microseconds, so both are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg
from psycopg import sql

GROUPS = {"tier": "tier", "approver": "approver_id"}
RANGE = """
SELECT {key} AS key, count(*) AS steps, count(waited_us) AS acted,
    percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY waited_us) AS pcts,
    count(*) FILTER (WHERE overdue) AS overdue,
    count(*) FILTER (WHERE escalated) AS escalated,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY waited_us) FILTER (WHERE period_end)
        AS period_end_median_us
FROM step_timings
WHERE assigned_on BETWEEN %(from)s AND %(to)s
GROUP BY 1
"""
TOTALS = """
SELECT key, period_end, wait_bucket, steps, overdue, escalated FROM step_timing_totals
WHERE group_kind = %s AND steps <> 0
"""
UNACTED = """
SELECT {key}, false, -1, count(*), count(*) FILTER (WHERE overdue),
    count(*) FILTER (WHERE escalated)
FROM step_timings WHERE waited_us IS NULL
GROUP BY 1
"""
AT_RANKS = """
SELECT t.i, w.waited_us
FROM unnest(%(keys)s::text[], %(buckets)s::smallint[], %(offsets)s::bigint[],
            %(windows)s::boolean[]) WITH ORDINALITY AS t(key, bucket, skip, win, i)
CROSS JOIN LATERAL (
    SELECT s.waited_us FROM step_timings s
    WHERE s.{key} = t.key AND s.wait_bucket = t.bucket AND s.waited_us IS NOT NULL
      AND (s.period_end OR NOT t.win)
    ORDER BY s.waited_us OFFSET t.skip LIMIT 1
) AS w
"""
SPAN = """
SELECT (SELECT min(assigned_on) FROM step_timings), (SELECT max(assigned_on) FROM step_timings)
"""
RESCUED = """
SELECT t.{key} AS key, count(DISTINCT o.id) AS n
FROM step_timings t
JOIN overrides o ON o.request_id = t.request_id AND 'bypassed_owner' = ANY (o.categories)
    AND o.created_at >= t.due_at
WHERE t.overdue AND t.assigned_on BETWEEN %(from)s AND %(to)s
GROUP BY 1
"""
REBUILD = """
INSERT INTO step_timing_totals
SELECT g.kind, g.key, t.period_end, t.wait_bucket, count(*),
    count(*) FILTER (WHERE t.overdue), count(*) FILTER (WHERE t.escalated)
FROM step_timings t,
    LATERAL (VALUES ('tier', t.tier), ('approver', t.approver_id)) AS g(kind, key)
WHERE t.waited_us IS NOT NULL
GROUP BY 1, 2, 3, 4
"""


def in_range(
    conn: psycopg.Connection, group_by: str, start: date, end: date
) -> list[tuple[Any, ...]]:
    """(key, steps, acted, [median_us, p90_us], overdue, escalated, period_end_median_us)."""
    conn.execute("SET LOCAL work_mem = '64MB'")  # the waits sort in memory
    query = sql.SQL(RANGE).format(key=sql.Identifier(GROUPS[group_by]))
    return conn.execute(query, {"from": start, "to": end}).fetchall()


def covers_all(conn: psycopg.Connection, start: date, end: date) -> bool:
    """Whether start..end holds every timing there is (then the totals answer it)."""
    row = conn.execute(SPAN).fetchone()
    first, last = row if row else (None, None)
    return first is None or (start <= first and last <= end)


def totals(conn: psycopg.Connection, group_by: str) -> list[tuple[Any, ...]]:
    """All time: (key, period_end, wait_bucket, steps, overdue, escalated): the acted-on
    totals, and the steps not acted on (yet) counted as they are, in bucket -1."""
    unacted = sql.SQL(UNACTED).format(key=sql.Identifier(GROUPS[group_by]))
    return [*conn.execute(TOTALS, (group_by,)).fetchall(), *conn.execute(unacted).fetchall()]


def at_ranks(
    conn: psycopg.Connection, group_by: str, wanted: Sequence[tuple[str, int, int, bool]]
) -> list[int]:
    """For each (key, bucket, offset in the bucket, period-end only), the wait there."""
    if not wanted:
        return []
    keys, buckets, offsets, windows = (list(column) for column in zip(*wanted, strict=True))
    query = sql.SQL(AT_RANKS).format(key=sql.Identifier(GROUPS[group_by]))
    params = {"keys": keys, "buckets": buckets, "offsets": offsets, "windows": windows}
    found: dict[int, int] = dict(conn.execute(query, params).fetchall())
    return [int(found[i]) for i in range(1, len(wanted) + 1)]


def rescued_after_overdue(
    conn: psycopg.Connection, group_by: str, start: date, end: date
) -> dict[str, int]:
    """Overrides around the owner filed after a step of the request fell due (and went
    overdue), by that step's group: the stall that invites the swoop."""
    query = sql.SQL(RESCUED).format(key=sql.Identifier(GROUPS[group_by]))
    rows = conn.execute(query, {"from": start, "to": end}).fetchall()
    return {str(key): int(n) for key, n in rows}


def rebuild_totals(conn: psycopg.Connection) -> None:
    """Recount step_timing_totals from the timings (after a bulk load without triggers)."""
    conn.execute("TRUNCATE step_timing_totals")
    conn.execute(REBUILD)
