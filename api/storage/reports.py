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

from api.storage import rollups

FIRST_DAY = date(1, 1, 1)
LAST_DAY = date(9999, 12, 31)

ROLL_BUDGET_S = 2.0
"""At most this much rolling up per report call (a month at a time), so the first report
after a deploy onto a long history does not stall; `dealdesk db init` rolls up the rest."""
OFFSET_KEYS = {"tier": "requester_tier", "owner": "owner_id"}
WITHDRAWALS = """
SELECT owner_id, reason_code, count(*) AS n FROM withdrawals
WHERE withdrawn_on BETWEEN %(from)s AND %(to)s
GROUP BY 1, 2
"""


def _range(start: date | None, end: date | None) -> dict[str, Any]:
    return {"from": start or FIRST_DAY, "to": end or LAST_DAY}


def prepare(
    conn: psycopg.Connection, today: date, bounds: Sequence[int], budget_s: float | None
) -> None:
    """Bring the monthly rollups up to date (one small read when they are)."""
    rollups.ensure_rolled(conn, today, {"bounds": list(bounds)}, budget_s=budget_s)


def _read(
    conn: psycopg.Connection,
    name: str,
    group: Sequence[str],
    start: date | None,
    end: date | None,
    bounds: Sequence[int] = (),
    **where: Any,
) -> list[tuple[Any, ...]]:
    span = _range(start, end)
    params = {"bounds": list(bounds)}
    return rollups.read(conn, name, group, where, params, span["from"], span["to"])


def offsets(
    conn: psycopg.Connection,
    lever: str,
    group_by: str,
    start: date | None,
    end: date | None,
) -> list[tuple[str, Decimal, int]]:
    """(group key, offset from the requester's ceiling, asks) for every ask of `lever`."""
    key = OFFSET_KEYS[group_by]
    rows = _read(conn, "offsets", (key, "offset"), start, end, lever=lever)
    return [(r[0], r[1], r[2]) for r in rows]


def submissions_by_bucket(
    conn: psycopg.Connection, bounds: Sequence[int], start: date | None, end: date | None
) -> list[tuple[int, int, int, int]]:
    """(fiscal year, quarter, bucket index from 1, submissions)."""
    group = ("fiscal_year", "fiscal_quarter", "bucket")
    return [tuple(r) for r in _read(conn, "submissions", group, start, end, bounds)]


def values_by_bucket(
    conn: psycopg.Connection,
    lever: str,
    bounds: Sequence[int],
    start: date | None,
    end: date | None,
) -> list[tuple[int, int, int, Decimal, int]]:
    """(fiscal year, quarter, bucket index, a value of `lever` asked at submission, count)."""
    group = ("fiscal_year", "fiscal_quarter", "bucket", "value")
    rows = _read(conn, "submitted_values", group, start, end, bounds, lever=lever)
    return [tuple(r) for r in rows]


def overrides_by_bucket(
    conn: psycopg.Connection, bounds: Sequence[int], start: date | None, end: date | None
) -> list[tuple[int, int, int, int, Decimal]]:
    """(fiscal year, quarter, bucket index, overrides, their excess value)."""
    group = ("fiscal_year", "fiscal_quarter", "bucket")
    rows = _read(conn, "override_buckets", group, start, end, bounds)
    return [tuple(r) for r in rows if r[2] is not None]


def actions(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> list[tuple[str, str, int]]:
    """(actor, approve | reject | return, count) of the steps acted on."""
    return [tuple(r) for r in _read(conn, "actions", ("actor_id", "action"), start, end)]


def override_categories(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> list[tuple[str, str, int]]:
    """(executive, category, overrides carrying it)."""
    rows = _read(conn, "categories", ("executive_id", "category"), start, end)
    return [tuple(r) for r in rows]


def ask_kinds(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> list[tuple[str, str, bool, tuple[str, ...], int]]:
    """(owner, submission | revision, slipped a quarter, the decision's flags as a tuple,
    asks)."""
    group = ("owner_id", "kind", "slipped", "flags")
    return [(r[0], r[1], r[2], tuple(r[3]), r[4]) for r in _read(conn, "asks", group, start, end)]


def withdrawals(
    conn: psycopg.Connection, start: date | None, end: date | None
) -> list[tuple[str, str | None, int]]:
    """(owner, reason code or None, withdrawals)."""
    return [tuple(r) for r in conn.execute(WITHDRAWALS, _range(start, end)).fetchall()]
