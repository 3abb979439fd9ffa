"""The partition DDL that `make lint` checks with squawk (tests/storage/fixtures/
partition_ddl.sql) is what api/storage/partitions.py runs: recorded again from a real
conversion and a month made ahead, the statements must match (bounds and months aside)."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from api.storage import partitions
from tests.storage.planting import (
    FIXTURES,
    add_months,
    previous_release,
    scratch_database,
    this_month,
)


class Recorder:
    """The connection, noting each DDL statement the partition functions send."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn, self.seen = conn, []

    def execute(self, query: Any, params: Any = None) -> Any:
        if not isinstance(query, str | bytes):
            text = query.as_string(self.conn)
            if not text.lstrip().upper().startswith(("SELECT", "WITH")):
                self.seen.append(text + ";")
        return self.conn.execute(query, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def normal(statements: list[str]) -> list[str]:
    out = [re.sub(r"'[0-9a-f]{32}'::uuid", "'<bound>'::uuid", s) for s in statements]
    return [re.sub(r"decisions_p\d{4}_\d{2}", "decisions_pYYYY_MM", s) for s in out]


def test_the_linted_ddl_is_the_ddl_we_run(server_url: str) -> None:
    with scratch_database(server_url, "ddl") as url:
        previous_release(url)
        with psycopg.connect(url) as raw:
            raw.execute(
                "INSERT INTO decisions (id, as_of, deal_id, requester_id, owner_id, input, output,"
                " outcome, policy_sha256) VALUES ('ffffffff-0000-4000-8000-000000000000',"
                " '2026-01-01', 'Q', 'a', 'a', '{}', '{}', 'x', 'y')"
            )
            recorder = Recorder(raw)
            first = add_months(this_month(), 1)
            partitions.convert_move(recorder, first)  # type: ignore[arg-type]
            partitions.convert_validate(recorder)  # type: ignore[arg-type]
            partitions.convert_swap(recorder, first)  # type: ignore[arg-type]
            partitions.create_month(recorder, add_months(this_month(), 2))  # type: ignore[arg-type]
            raw.rollback()
    text = (FIXTURES / "partition_ddl.sql").read_text().splitlines()
    linted = [
        line for line in text
        if line and not line.startswith(("--", "BEGIN", "COMMIT", "SET"))
    ]  # fmt: skip
    assert normal(recorder.seen) == normal(linted)
