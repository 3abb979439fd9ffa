"""overrides and override_reviews: written once, filtered and exported by finance."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

COLUMNS = (
    "id, seq, request_id, deal_id, owner_id, owner_tier, executive_id, executive_tier, categories, "
    "terms_before, terms_after, excess, excess_value, currency, reason_code, justification, "
    "fiscal_year, fiscal_quarter, period_end, period, policy_name, policy_version, policy_sha256, "
    "review_status, owner_acknowledged, acknowledged_at, created_at, event_hash"
)
INSERT = """
INSERT INTO overrides (id, request_id, deal_id, owner_id, owner_tier, executive_id, executive_tier,
    categories, terms_before, terms_after, excess, excess_value, currency, reason_code,
    justification, fiscal_year, fiscal_quarter, period_end, period, policy_name, policy_version,
    policy_sha256, created_at, created_on, event_hash)
VALUES (%(id)s, %(request_id)s, %(deal_id)s, %(owner_id)s, %(owner_tier)s, %(executive_id)s,
    %(executive_tier)s, %(categories)s, %(terms_before)s, %(terms_after)s, %(excess)s,
    %(excess_value)s, %(currency)s, %(reason_code)s, %(justification)s, %(fiscal_year)s,
    %(fiscal_quarter)s, %(period_end)s, %(period)s, %(policy_name)s, %(policy_version)s,
    %(policy_sha256)s, %(created_at)s, (%(created_at)s AT TIME ZONE 'UTC')::date, %(event_hash)s)
"""
GET = """
SELECT
    id, seq, request_id, deal_id, owner_id, owner_tier, executive_id, executive_tier,
    categories, terms_before, terms_after, excess, excess_value, currency, reason_code,
    justification, fiscal_year, fiscal_quarter, period_end, period, policy_name,
    policy_version, policy_sha256, review_status, owner_acknowledged, acknowledged_at,
    created_at, event_hash
FROM overrides WHERE id = %s
"""
ACKNOWLEDGE = """
UPDATE overrides SET owner_acknowledged = true, acknowledged_at = %s
WHERE id = %s AND NOT owner_acknowledged
"""
SET_REVIEW_STATUS = "UPDATE overrides SET review_status = %s WHERE id = %s"
INSERT_REVIEW = """
INSERT INTO override_reviews (override_id, reviewer_id, status, note, created_at)
VALUES (%s, %s, %s, %s, %s) RETURNING id, override_id, reviewer_id, status, note, created_at
"""
REVIEWS = """
SELECT id, override_id, reviewer_id, status, note, created_at FROM override_reviews
WHERE override_id = %s ORDER BY id
"""
FILTERS = {
    "from": "created_on >= %(from)s",
    "to": "created_on <= %(to)s",
    "fiscal_year": "fiscal_year = %(fiscal_year)s",
    "fiscal_quarter": "fiscal_quarter = %(fiscal_quarter)s",
    "executive_id": "executive_id = %(executive_id)s",
    "owner_id": "owner_id = %(owner_id)s",
    "category": "categories @> ARRAY[%(category)s]::text[]",
    "review_status": "review_status = %(review_status)s",
    "period_end": "period_end = %(period_end)s",
    "after": "seq > %(after)s",
    "before": "seq < %(before)s",  # newest-first pages (the console's register)
}
DRIVING_INDEXES = (
    ("executive_id",),
    ("owner_id",),
    ("fiscal_year", "fiscal_quarter"),
    ("fiscal_year",),
    ("review_status",),
    ("period_end",),
)
GROUPS = {
    "executive": sql.SQL("executive_id"),
    "owner": sql.SQL("owner_id"),
    "fiscal_quarter": sql.SQL("'FY' || fiscal_year || '-Q' || fiscal_quarter"),
}


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    id: uuid.UUID
    seq: int
    request_id: uuid.UUID | None
    deal_id: str
    owner_id: str
    owner_tier: str
    executive_id: str
    executive_tier: str
    categories: list[str]
    terms_before: dict[str, Any]
    terms_after: dict[str, Any]
    excess: list[dict[str, Any]]
    excess_value: Decimal
    currency: str
    reason_code: str
    justification: str
    fiscal_year: int
    fiscal_quarter: int
    period_end: bool
    period: dict[str, Any]
    policy_name: str
    policy_version: str
    policy_sha256: str
    review_status: str
    owner_acknowledged: bool
    acknowledged_at: datetime | None
    created_at: datetime
    event_hash: str


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    override_id: uuid.UUID
    reviewer_id: str
    status: str
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SummaryRow:
    key: str
    count: int
    period_end_count: int
    excess_value: Decimal
    pending_review: int


def insert_override(conn: psycopg.Connection, fields: dict[str, Any]) -> None:
    row = dict(fields)
    for key in ("terms_before", "terms_after", "excess", "period"):
        row[key] = Jsonb(row[key])
    conn.execute(INSERT, row)


def get_override(conn: psycopg.Connection, override_id: uuid.UUID) -> OverrideRecord | None:
    with conn.cursor(row_factory=class_row(OverrideRecord)) as cur:
        return cur.execute(GET, (override_id,)).fetchone()


RESTAMP = """
UPDATE overrides SET created_at = %(at)s, created_on = (%(at)s AT TIME ZONE 'UTC')::date
WHERE id = %(id)s
"""


def restamp(conn: psycopg.Connection, override_id: uuid.UUID, at: datetime) -> None:
    """The demo history only (`serve --demo`): date a seeded override by its story's clock, so
    that its created_at falls in the fiscal period it names. Real overrides keep the time
    taken under the audit chain lock."""
    conn.execute(RESTAMP, {"id": override_id, "at": at})


def acknowledge(conn: psycopg.Connection, override_id: uuid.UUID, at: datetime) -> bool:
    """True when this call acknowledged it (False when it already was)."""
    return conn.execute(ACKNOWLEDGE, (at, override_id)).rowcount == 1


def add_review(
    conn: psycopg.Connection,
    override_id: uuid.UUID,
    reviewer_id: str,
    status: str,
    note: str,
    at: datetime,
) -> Review:
    with conn.cursor(row_factory=class_row(Review)) as cur:
        review = cur.execute(INSERT_REVIEW, (override_id, reviewer_id, status, note, at)).fetchone()
    conn.execute(SET_REVIEW_STATUS, (status, override_id))
    assert review is not None
    return review


def reviews(conn: psycopg.Connection, override_id: uuid.UUID) -> list[Review]:
    with conn.cursor(row_factory=class_row(Review)) as cur:
        return cur.execute(REVIEWS, (override_id,)).fetchall()


def _where(filters: dict[str, Any], driving: tuple[str, ...] = ()) -> sql.Composable:
    """WHERE for the given filters. The driving index's columns are written as one-value
    ranges, which the planner does not fold away from the ORDER BY (see order_by)."""
    clauses = []
    for name, value in filters.items():
        if value is None or name not in FILTERS:
            continue
        if name in driving:
            column, value_ = sql.Identifier(name), sql.Placeholder(name)
            clauses.append(sql.SQL("{} BETWEEN {} AND {}").format(column, value_, value_))
        else:
            clauses.append(sql.SQL(FILTERS[name]))  # type: ignore[arg-type]
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")


def driving_index(filters: dict[str, Any]) -> tuple[str, ...]:
    """The composite (columns..., seq) index that should produce a page's order."""
    given = {k for k, v in filters.items() if v is not None}
    return next((leading for leading in DRIVING_INDEXES if set(leading) <= given), ())


def order_by(filters: dict[str, Any], descending: bool = False) -> sql.Composable:
    """Seq order, spelled so that one composite index yields it directly.

    With executive_id filtered to one value, `ORDER BY executive_id, seq` is the same order
    as `ORDER BY seq`, and lets the planner walk (executive_id, seq) instead of scanning seq
    and discarding rows. PostgreSQL drops a column it knows is constant (`col = $1`) from
    the ORDER BY, so _where writes it as `col BETWEEN $1 AND $1`. created_on rises with seq
    (created_at is taken under the audit chain lock), so a date range may lead too.
    """
    leading = driving_index(filters)
    columns = ["created_on", "seq"] if filters.get("from") or filters.get("to") else ["seq"]
    if leading:
        columns = [*leading, "seq"]
    direction = sql.SQL(" DESC" if descending else "")
    return sql.SQL(", ").join(sql.Composed([sql.Identifier(c), direction]) for c in columns)


def list_overrides(
    conn: psycopg.Connection,
    filters: dict[str, Any],
    limit: int,
    *,
    newest_first: bool = False,
) -> list[OverrideRecord]:
    """One page in seq order (keyset on seq: rows arriving meanwhile land on later pages);
    `newest_first` reverses it (keyset `before` instead of `after`), walking the same
    indexes backwards."""
    query = sql.SQL("SELECT {} FROM overrides{} ORDER BY {} LIMIT %(limit)s").format(
        sql.SQL(COLUMNS), _where(filters, driving_index(filters)), order_by(filters, newest_first)
    )
    with conn.cursor(row_factory=class_row(OverrideRecord)) as cur:
        return cur.execute(query, {**filters, "limit": limit}).fetchall()


class ExportRow(NamedTuple):
    """An override as the CSV export writes it. The JSON columns (terms, excess, period) are
    not read: parsing them was about two thirds of an export's time."""

    id: uuid.UUID
    created_at: datetime
    deal_id: str
    request_id: uuid.UUID | None
    owner_id: str
    executive_id: str
    executive_tier: str
    categories: list[str]
    reason_code: str
    excess_value: Decimal
    currency: str
    fiscal_year: int
    fiscal_quarter: int
    period_end: bool
    review_status: str
    policy_version: str
    policy_sha256: str
    justification: str


EXPORT_COLUMNS = ", ".join(ExportRow._fields)


def export_rows(
    conn: psycopg.Connection, filters: dict[str, Any], batch: int = 2000
) -> Iterator[ExportRow]:
    """Every match through a server-side cursor, so memory stays flat at any size."""
    query = sql.SQL("SELECT {} FROM overrides{} ORDER BY seq").format(
        sql.SQL(EXPORT_COLUMNS),
        _where(filters),
    )
    with conn.cursor(name="overrides_export", row_factory=_export_row) as cur:
        cur.itersize = batch
        cur.execute(query, filters)
        yield from cur


def _export_row(cursor: Any) -> Callable[[Sequence[Any]], ExportRow]:
    return ExportRow._make


def summary(
    conn: psycopg.Connection, group_by: str, start: date | None, end: date | None
) -> list[SummaryRow]:
    key = GROUPS[group_by]
    filters = {"from": start, "to": end}
    query = sql.SQL(
        "SELECT {key} AS key, count(*) AS count, "
        "count(*) FILTER (WHERE period_end) AS period_end_count, "
        "coalesce(sum(excess_value), 0) AS excess_value, "
        "count(*) FILTER (WHERE review_status = 'pending') AS pending_review "
        "FROM overrides{where} GROUP BY 1 ORDER BY 1"
    ).format(key=key, where=_where(filters))
    with conn.cursor(row_factory=class_row(SummaryRow)) as cur:
        return cur.execute(query, filters).fetchall()


CATEGORIES_OF_REQUEST = "SELECT id, categories FROM overrides WHERE request_id = %s"


def categories_of_request(
    conn: psycopg.Connection, request_id: uuid.UUID
) -> dict[uuid.UUID, list[str]]:
    """The overrides linked to a request (made around its owner), by id: their categories."""
    rows = conn.execute(CATEGORIES_OF_REQUEST, (request_id,)).fetchall()
    return {row[0]: list(row[1]) for row in rows}
