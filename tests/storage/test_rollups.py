"""Monthly rollups answer exactly as the rows do: for all time, whole months, and ranges
that start and end inside a month; and only months that ended days ago are rolled."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from api.policy.loader import PolicySet
from api.service.demo import seed_demo
from api.service.demo_history import seed_history
from api.service.patterns import BOUNDS
from api.storage import reports, rollups
from api.storage.database import transaction

Span = tuple[date | None, date | None]


def answers(conn: psycopg.Connection, span: Span) -> dict[str, list[Any]]:
    start, end = span
    return {
        "offsets by tier": sorted(reports.offsets(conn, "discount_pct", "tier", start, end)),
        "offsets by owner": sorted(reports.offsets(conn, "discount_pct", "owner", start, end)),
        "submissions": sorted(reports.submissions_by_bucket(conn, BOUNDS, start, end)),
        "values": sorted(reports.values_by_bucket(conn, "discount_pct", BOUNDS, start, end)),
        "overrides": sorted(reports.overrides_by_bucket(conn, BOUNDS, start, end)),
        "actions": sorted(reports.actions(conn, start, end)),
        "categories": sorted(reports.override_categories(conn, start, end)),
        "asks": sorted(reports.ask_kinds(conn, start, end)),
    }


def test_rollups_answer_as_the_rows_do(pool: ConnectionPool, shipped: PolicySet, db: str) -> None:
    today = datetime.now(UTC).date()
    with transaction(pool) as conn:
        seed_demo(conn, shipped.active)
        assert seed_history(conn, shipped.active, today) > 300
    month = today.replace(day=1)
    spans: list[Span] = [
        (None, None),
        (month - timedelta(days=200), None),
        (None, month - timedelta(days=40)),
        ((month - timedelta(days=95)).replace(day=1), month - timedelta(days=1)),
        (month - timedelta(days=150), month - timedelta(days=61)),
        (month - timedelta(days=58), month - timedelta(days=45)),  # inside one month
    ]
    with transaction(pool) as conn:
        assert rollups.rolled_through(conn) == {}
        from_rows = [answers(conn, span) for span in spans]
    with transaction(pool) as conn:
        rollups.ensure_rolled(conn, today, {"bounds": BOUNDS})
    with transaction(pool) as conn:
        through = rollups.rolled_through(conn)
        last = (today - timedelta(days=2)).replace(day=1) - timedelta(days=1)
        assert through == dict.fromkeys(rollups.ROLLUPS, last)
        rolled = conn.execute("SELECT count(*) FROM rollup_offsets").fetchone()
        assert rolled is not None and rolled[0] > 0
        assert [answers(conn, span) for span in spans] == from_rows
    assert from_rows[0]["offsets by owner"], "the demo history gives the comparison rows"


def test_a_budget_rolls_a_month_at_a_time_and_reads_stay_exact(
    pool: ConnectionPool, shipped: PolicySet, db: str
) -> None:
    today = datetime.now(UTC).date()
    with transaction(pool) as conn:
        seed_demo(conn, shipped.active)
        seed_history(conn, shipped.active, today)
        whole = answers(conn, (None, None))
    with transaction(pool) as conn:
        rollups.ensure_rolled(conn, today, {"bounds": BOUNDS}, budget_s=0)
    with transaction(pool) as conn:
        through = rollups.rolled_through(conn)
        last = (today - timedelta(days=2)).replace(day=1) - timedelta(days=1)
        assert len(through) == 1  # the first rollup, one month, then the budget was spent
        assert next(iter(through.values())) < last
        assert answers(conn, (None, None)) == whole


def test_a_month_is_rolled_only_days_after_it_ended(
    pool: ConnectionPool, shipped: PolicySet, db: str
) -> None:
    with transaction(pool) as conn:
        rollups.ensure_rolled(conn, date(2026, 12, 2), {"bounds": BOUNDS})
        assert rollups.rolled_through(conn) == dict.fromkeys(rollups.ROLLUPS, date(2026, 10, 31))
        rollups.ensure_rolled(conn, date(2026, 12, 3), {"bounds": BOUNDS})
        assert rollups.rolled_through(conn) == dict.fromkeys(rollups.ROLLUPS, date(2026, 11, 30))
