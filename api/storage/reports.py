"""The report queries (DESIGN section 9): counted histograms and counts, grouped in SQL,
so a report reads one covering index and hands the pure `api.reports` small inputs.

Every query takes an inclusive date range on the UTC date of its records; callers pass
FIRST_DAY / LAST_DAY for an open end, so one plan (a range scan) serves every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

FIRST_DAY = date(1, 1, 1)
LAST_DAY = date(9999, 12, 31)

OFFSETS = """
SELECT {key} AS key, value - ceiling AS offset, count(*) AS n
FROM ask_levers
WHERE lever = %(lever)s AND created_on BETWEEN %(from)s AND %(to)s
GROUP BY 1, 2
"""
OFFSET_KEYS = {"tier": sql.Identifier("requester_tier"), "owner": sql.Identifier("owner_id")}
SUBMISSIONS_BY_BUCKET = """
SELECT fiscal_year, fiscal_quarter, width_bucket(days_to_quarter_end, %(bounds)s::int[]) AS b,
    count(*) AS n
FROM asks
WHERE kind = 'submission' AND created_on BETWEEN %(from)s AND %(to)s
GROUP BY 1, 2, 3
"""
VALUES_BY_BUCKET = """
SELECT fiscal_year, fiscal_quarter, width_bucket(days_to_quarter_end, %(bounds)s::int[]) AS b,
    value, count(*) AS n
FROM ask_levers
WHERE lever = %(lever)s AND kind = 'submission' AND created_on BETWEEN %(from)s AND %(to)s
GROUP BY 1, 2, 3, 4
"""
OVERRIDES_BY_BUCKET = """
SELECT fiscal_year, fiscal_quarter, width_bucket(days_to_quarter_end, %(bounds)s::int[]) AS b,
    count(*) AS n, sum(excess_value) AS excess
FROM overrides
WHERE created_on BETWEEN %(from)s AND %(to)s AND days_to_quarter_end IS NOT NULL
GROUP BY 1, 2, 3
"""
ACTIONS = """
SELECT actor_id, action, count(*) AS n FROM step_actions
WHERE acted_on BETWEEN %(from)s AND %(to)s
GROUP BY 1, 2
"""
OVERRIDE_CATEGORIES = """
SELECT executive_id, c.category, count(*) AS n
FROM overrides, unnest(categories) AS c(category)
WHERE created_on BETWEEN %(from)s AND %(to)s
GROUP BY 1, 2
"""
TIMELINE = """
SELECT owner_id,
    count(*) FILTER (WHERE kind = 'submission') AS requests,
    count(*) FILTER (WHERE kind = 'submission' AND %(flag)s = ANY(flags)) AS flagged,
    count(*) FILTER (WHERE kind = 'revision' AND slipped) AS slips
FROM asks
WHERE created_on BETWEEN %(from)s AND %(to)s
GROUP BY 1
"""
WITHDRAWALS = """
SELECT owner_id, reason_code, count(*) AS n FROM withdrawals
WHERE withdrawn_on BETWEEN %(from)s AND %(to)s
GROUP BY 1, 2
"""
AFTER_NO = """
SELECT owner_id,
    count(*) FILTER (WHERE 'after_customer_no' = ANY(flags)) AS after_no,
    count(*) FILTER (WHERE 'deeper_after_customer_no' = ANY(flags)) AS deeper
FROM asks
WHERE kind = 'submission' AND created_on BETWEEN %(from)s AND %(to)s
    AND flags && ARRAY['after_customer_no']
GROUP BY 1
"""


def _range(start: date | None, end: date | None) -> dict[str, Any]:
    return {"from": start or FIRST_DAY, "to": end or LAST_DAY}


def offsets(
    conn: psycopg.Connection,
    lever: str,
    group_by: str,
    start: date | None,
    end: date | None,
) -> list[tuple[str, Decimal, int]]:
    """(group key, offset from the requester's ceiling, asks) for every ask of `lever`."""
    query = sql.SQL(OFFSETS).format(key=OFFSET_KEYS[group_by])
    rows = conn.execute(query, {"lever": lever, **_range(start, end)}).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def submissions_by_bucket(
    conn: psycopg.Connection, bounds: Sequence[int], start: date | None, end: date | None
) -> list[tuple[int, int, int, int]]:
    """(fiscal year, quarter, bucket index from 1, submissions)."""
    params = {"bounds": list(bounds), **_range(start, end)}
    return [tuple(r) for r in conn.execute(SUBMISSIONS_BY_BUCKET, params).fetchall()]


def values_by_bucket(
    conn: psycopg.Connection,
    lever: str,
    bounds: Sequence[int],
    start: date | None,
    end: date | None,
) -> list[tuple[int, int, int, Decimal, int]]:
    """(fiscal year, quarter, bucket index, a value of `lever` asked at submission, count)."""
    params = {"lever": lever, "bounds": list(bounds), **_range(start, end)}
    return [tuple(r) for r in conn.execute(VALUES_BY_BUCKET, params).fetchall()]


def overrides_by_bucket(
    conn: psycopg.Connection, bounds: Sequence[int], start: date | None, end: date | None
) -> list[tuple[int, int, int, int, Decimal]]:
    """(fiscal year, quarter, bucket index, overrides, their excess value)."""
    params = {"bounds": list(bounds), **_range(start, end)}
    return [tuple(r) for r in conn.execute(OVERRIDES_BY_BUCKET, params).fetchall()]


def actions(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> list[tuple[str, str, int]]:
    """(actor, approve | reject | return, count) of the steps acted on."""
    return [tuple(r) for r in conn.execute(ACTIONS, _range(start, end)).fetchall()]


def override_categories(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> list[tuple[str, str, int]]:
    """(executive, category, overrides carrying it)."""
    rows = conn.execute(OVERRIDE_CATEGORIES, _range(start, end)).fetchall()
    return [tuple(r) for r in rows]


def timeline(
    conn: psycopg.Connection, flag: str, start: date | None, end: date | None
) -> list[tuple[str, int, int, int]]:
    """(owner, submissions, submissions flagged `flag`, revisions that slipped a quarter)."""
    rows = conn.execute(TIMELINE, {"flag": flag, **_range(start, end)}).fetchall()
    return [tuple(r) for r in rows]


def withdrawals(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> list[tuple[str, str | None, int]]:
    """(owner, reason code or None, withdrawals)."""
    return [tuple(r) for r in conn.execute(WITHDRAWALS, _range(start, end)).fetchall()]


def after_no(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> list[tuple[str, int, int]]:
    """(owner, submissions after a customer's no, of them asking deeper)."""
    return [tuple(r) for r in conn.execute(AFTER_NO, _range(start, end)).fetchall()]
