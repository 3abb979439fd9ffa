"""Planted decisions for the partition, upgrade and archive tests: real evaluations of the
shipped policy, with version 7 ids of chosen moments and version 4 ids where we want them."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.policy.deal import restore
from api.policy.decision import Party
from api.policy.engine import evaluate
from api.policy.model import Policy
from api.storage.partitions import add_months, month_start

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PREVIOUS_SCHEMA = FIXTURES / "schema_prev.sql"  # `git show 19ca4ec:schema.sql`
INSERT = """
INSERT INTO decisions (id, created_at, as_of, deal_id, requester_id, owner_id, input, output,
                       outcome, policy_sha256, kind, shadow)
VALUES (%s, %s, %s, %s, 'am.jones', 'am.jones', %s, %s, %s, %s, 'evaluation', '[]')
"""


def this_month() -> date:
    today = datetime.now(UTC).date()
    return date(today.year, today.month, 1)


def in_month(month: date, day: int = 10) -> datetime:
    return month_start(month) + timedelta(days=day - 1, hours=12)


def v7_at(moment: datetime) -> uuid.UUID:
    ms = int(moment.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10))
    return uuid.UUID(
        int=ms << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 2 << 62 | rand & (1 << 62) - 1
    )


def v4_sorting_at(moment: datetime) -> uuid.UUID:
    """A version 4 id whose random first 48 bits happen to read as this moment."""
    rand = uuid.uuid4().int
    ms = int(moment.timestamp() * 1000)
    return uuid.UUID(int=ms << 80 | rand & ((1 << 80) - 1))


def plant(
    conn: psycopg.Connection, policy: Policy, rows: list[tuple[uuid.UUID, datetime, str]]
) -> None:
    """(id, created_at, discount) each: the deal evaluated under the policy, logged."""
    for number, (row_id, created_at, discount) in enumerate(rows):
        as_of = created_at.date()
        body = {
            "deal": {
                "deal_id": f"Q-{number}",
                "owner_id": "am.jones",
                "currency": "USD",
                "list_amount": "250000.00",
                "discount_pct": discount,
            },
            "requested_by": "am.jones",
            "as_of": as_of.isoformat(),
        }
        party = Party("am.jones", "account_manager")
        deal = restore(body["deal"], policy.lever_names)
        decision = evaluate(policy, deal, party, party, today=as_of, now=created_at)
        output = decision.as_dict()
        conn.execute(
            INSERT,
            (row_id, created_at, as_of, f"Q-{number}", json.dumps(body), json.dumps(output),
             output["outcome"], policy.sha256),
        )  # fmt: skip


@contextmanager
def scratch_database(server_url: str, label: str) -> Iterator[str]:
    name = f"dealdesk_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    try:
        yield make_conninfo(**params)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def previous_release(url: str) -> None:
    """The schema of the release before partitioning, as that release applied it."""
    with psycopg.connect(url) as conn:
        conn.execute(PREVIOUS_SCHEMA.read_bytes())


def months_back(n: int) -> date:
    return add_months(this_month(), -n)
