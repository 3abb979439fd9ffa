"""The decision log's grouped insert read as json against read as jsonb: PostgreSQL CPU per row.

The same groups of two real decisions (the six-lever policy's, about 2.3 kB of explanation
each) go through each form of the guarded insert, prepared as the writer prepares it, three
rounds in alternating order, on a scratch database. CPU is the backend's, from /proc.

    .venv/bin/python bench/log_insert.py
"""

from __future__ import annotations

import os
import statistics
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from api.ids import uuid7  # noqa: E402
from api.policy.decimals import json_bytes  # noqa: E402
from api.storage.decisions import GUARDED_INSERT, Preview, preview_row  # noqa: E402
from bench import cpu, engines, run  # noqa: E402

GROUPS, GROUP = 3000, 2
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
AS_JSON = GUARDED_INSERT.replace("jsonb_to_recordset(%s::jsonb)", "json_to_recordset(%s::json)")
FORMS = {"json": AS_JSON, "jsonb (shipped)": GUARDED_INSERT}


def rows(generation: int, policy_generation: int) -> list[bytes]:
    decision = engines.six_lever_engine()()
    output = json_bytes(decision.as_dict())
    made = []
    for _ in range(GROUPS * GROUP):
        preview = Preview(
            uuid7(), datetime.now(UTC), date(2026, 12, 29), "Q-00042", "am.jones", "am.jones",
            json_bytes({"deal": engines.DEAL, "requested_by": "am.jones"}), output,
            decision.outcome.value, "0" * 64, b"[]", generation, policy_generation,
        )  # fmt: skip
        made.append(preview_row(preview))
    return made


def main() -> int:
    url = run.scratch_database("dealdesk_bench_log_insert")
    with psycopg.connect(url, autocommit=True) as conn:
        generations = conn.execute(
            "SELECT (SELECT n FROM registry_generation), (SELECT generation FROM policy_set)"
        ).fetchone()
        assert generations is not None
        made = rows(*generations)
        print(
            f"{GROUPS:,} groups of {GROUP} rows, {len(made[0]):,} bytes a row, per form and round"
        )
        pid = conn.info.backend_pid
        seen: dict[str, list[float]] = {name: [] for name in FORMS}
        for round_ in range(1, ROUNDS + 1):
            for name, statement in FORMS.items():
                handle = f"s{uuid.uuid4().hex}".encode()
                conn.pgconn.prepare(handle, statement.replace("%s", "$1").encode())
                used = cpu.process_seconds(pid)
                for start in range(0, len(made), GROUP):
                    document = b"[" + b",".join(made[start : start + GROUP]) + b"]"
                    result = conn.pgconn.exec_prepared(handle, [document])
                    assert result.ntuples == GROUP, result.error_message
                used = cpu.process_seconds(pid) - used
                conn.execute("TRUNCATE decisions")  # the same ids go in again next time
                seen[name].append(used * 1e6 / len(made))
                print(f"round {round_} {name:16s} {seen[name][-1]:6.1f} us per row")
        medians = {name: statistics.median(values) for name, values in seen.items()}
        print("median: " + ", ".join(f"{n} {m:.1f} us" for n, m in medians.items()))
        wins = sum(b < a for a, b in zip(*seen.values(), strict=True))
        print(f"jsonb cheaper in {wins} of {ROUNDS} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
