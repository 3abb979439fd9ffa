"""The finance console's own reads: quarter totals, the chain head, stored policy versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.rows import class_row

# override_totals is kept by a trigger on overrides (schema.sql): a few rows, not a million
QUARTER = """
SELECT count, excess_value, period_end_count, period_end_excess, pending_review
FROM override_totals WHERE fiscal_year = %s AND fiscal_quarter = %s
"""
PENDING = "SELECT coalesce(sum(pending_review), 0) FROM override_totals"
HEAD = "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1"
EVENT_HASH = "SELECT hash FROM audit_events WHERE id = %s"
EVENT_ID = "SELECT id FROM audit_events WHERE hash = %s"
VERSIONS = """
SELECT sha256, name, version, status, file, first_loaded_at FROM policy_versions
ORDER BY first_loaded_at DESC, name, sha256
"""
SOURCE = "SELECT source FROM policy_versions WHERE sha256 = %s"


@dataclass(frozen=True, slots=True)
class QuarterTotals:
    count: int
    excess_value: Decimal
    period_end_count: int
    period_end_excess: Decimal
    pending_review: int


@dataclass(frozen=True, slots=True)
class StoredVersion:
    sha256: str
    name: str
    version: str
    status: str
    file: str
    first_loaded_at: datetime


def quarter_totals(
    conn: psycopg.Connection, fiscal_year: int, fiscal_quarter: int
) -> QuarterTotals:
    with conn.cursor(row_factory=class_row(QuarterTotals)) as cur:
        row = cur.execute(QUARTER, (fiscal_year, fiscal_quarter)).fetchone()
    return row or QuarterTotals(0, Decimal(0), 0, Decimal(0), 0)


def pending_reviews(conn: psycopg.Connection) -> int:
    row = conn.execute(PENDING).fetchone()
    return int(row[0]) if row else 0


def chain_head(conn: psycopg.Connection) -> tuple[int, str] | None:
    row = conn.execute(HEAD).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def event_hash(conn: psycopg.Connection, event_id: int) -> str | None:
    row = conn.execute(EVENT_HASH, (event_id,)).fetchone()
    return str(row[0]) if row else None


def event_id_of(conn: psycopg.Connection, digest: str) -> int | None:
    row = conn.execute(EVENT_ID, (digest,)).fetchone()
    return int(row[0]) if row else None


def stored_versions(conn: psycopg.Connection) -> list[StoredVersion]:
    with conn.cursor(row_factory=class_row(StoredVersion)) as cur:
        return cur.execute(VERSIONS).fetchall()


def version_source(conn: psycopg.Connection, sha256: str) -> bytes | None:
    row = conn.execute(SOURCE, (sha256,)).fetchone()
    return bytes(row[0]) if row else None
