"""SQL of the approval-times report (DESIGN 14): step timings grouped by tier or approver.

Percentiles are `percentile_disc`, which is the nearest rank; waits are whole microseconds,
so the median and p90 are exact before they are turned into hours."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg import sql

GROUPS = {"tier": "tier", "approver": "approver_id"}
TIMES = """
SELECT {key} AS key, count(*) AS steps, count(waited_us) AS acted,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY waited_us) AS median_us,
    percentile_disc(0.9) WITHIN GROUP (ORDER BY waited_us) AS p90_us,
    count(*) FILTER (WHERE overdue) AS overdue,
    count(*) FILTER (WHERE escalated) AS escalated,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY waited_us) FILTER (WHERE period_end)
        AS period_end_median_us
FROM step_timings
WHERE assigned_on BETWEEN %(from)s AND %(to)s
GROUP BY 1
"""
RESCUED = """
SELECT t.{key} AS key, count(DISTINCT o.id) AS n
FROM step_timings t
JOIN overrides o ON o.request_id = t.request_id AND 'bypassed_owner' = ANY (o.categories)
WHERE t.overdue AND t.assigned_on BETWEEN %(from)s AND %(to)s
GROUP BY 1
"""


def approval_times(
    conn: psycopg.Connection, group_by: str, start: date, end: date
) -> list[tuple[Any, ...]]:
    """(key, steps, acted, median_us, p90_us, overdue, escalated, period_end_median_us)."""
    query = sql.SQL(TIMES).format(key=sql.Identifier(GROUPS[group_by]))
    return conn.execute(query, {"from": start, "to": end}).fetchall()


def rescued_after_overdue(
    conn: psycopg.Connection, group_by: str, start: date, end: date
) -> dict[str, int]:
    """Overrides around the owner on requests with an overdue step, by that step's group."""
    query = sql.SQL(RESCUED).format(key=sql.Identifier(GROUPS[group_by]))
    rows = conn.execute(query, {"from": start, "to": end}).fetchall()
    return {str(key): int(n) for key, n in rows}
