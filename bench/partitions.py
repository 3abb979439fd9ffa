"""The partitioned decision log against an unpartitioned one, and archiving a month.

1. Insert path (what every evaluation pays): the decision-log writer's guarded grouped insert
   of real six-lever decisions (groups of BENCH_GROUP rows), into the partitioned `decisions`
   and into `decisions_flat`, an unpartitioned table LIKE it, interleaved group by group in
   the same run on a scratch database. Rows per second of each, and the ratio.
2. `dealdesk decisions archive` of one past month holding BENCH_ARCHIVE_ROWS decisions
   (1,000,000 by default; each about 3 kB of JSON), run as its own process: wall time and
   peak memory (ru_maxrss of that process).

    .venv/bin/python bench/partitions.py             # BENCH_ARCHIVE_ROWS=100000 for a quick look
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from api.storage.decisions import GUARDED_INSERT  # noqa: E402
from api.storage.partitions import add_months, create_month, month_start  # noqa: E402
from bench import engines, run  # noqa: E402
from bench.log_insert import rows  # noqa: E402

GROUPS = int(os.environ.get("BENCH_GROUPS", "1000"))
GROUP = int(os.environ.get("BENCH_GROUP", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ARCHIVE_ROWS = int(os.environ.get("BENCH_ARCHIVE_ROWS", "1000000"))
FLAT = GUARDED_INSERT.replace("INSERT INTO decisions ", "INSERT INTO decisions_flat ")
FILL = """
INSERT INTO decisions (id, created_at, as_of, deal_id, requester_id, owner_id, input, output,
                       outcome, policy_sha256, kind, shadow)
SELECT (lpad(to_hex(%(ms)s::bigint + i), 12, '0') || '70008000' || lpad(to_hex(i), 12, '0'))::uuid,
       to_timestamp((%(ms)s::bigint + i) / 1000.0), %(day)s::date, 'Q-' || i, 'am.jones',
       'am.jones', jsonb_set(%(input)s::jsonb, '{deal,deal_id}', to_jsonb('Q-' || i)),
       jsonb_set(%(output)s::jsonb, '{decision_id}', to_jsonb(md5(i::text))), 'approved',
       repeat('0', 64),
       'evaluation', '[]'
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS i
"""


def insert_path(url: str) -> list[dict[str, float]]:
    """Rows per second of each table, per round (the two interleaved group by group)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS decisions_flat (LIKE decisions INCLUDING ALL)")
        rounds = []
        for _ in range(ROUNDS):
            made: list[bytes] = []
            while len(made) < 2 * GROUPS * GROUP:
                made += rows(1, 0)  # each with its own id
            documents = iter(
                b"[" + b",".join(made[i : i + GROUP]) + b"]" for i in range(0, len(made), GROUP)
            )
            elapsed = {"partitioned": 0.0, "unpartitioned": 0.0}
            for g in range(GROUPS):
                forms = [("partitioned", GUARDED_INSERT), ("unpartitioned", FLAT)]
                for name, statement in forms if g % 2 else forms[::-1]:
                    document = next(documents)
                    started = time.perf_counter()
                    conn.execute(statement, (document.decode(),))
                    elapsed[name] += time.perf_counter() - started
            rounds.append({name: GROUPS * GROUP / seconds for name, seconds in elapsed.items()})
    return rounds


def fill_month(url: str, month_back: int = 2) -> tuple[str, int]:
    from api.policy.decimals import json_bytes

    month = add_months(run_month(), -month_back)
    decision = engines.six_lever_engine()()
    output = json_bytes(decision.as_dict()).decode()
    body = json_bytes({"deal": engines.DEAL, "requested_by": "am.jones"}).decode()
    ms = int(month_start(month).timestamp() * 1000)
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            create_month(conn, month)
        for lo in range(0, ARCHIVE_ROWS, 100_000):
            hi = min(lo + 100_000, ARCHIVE_ROWS)
            params = {"ms": ms, "day": month, "input": body, "output": output, "lo": lo, "hi": hi}
            conn.execute(FILL, params)
    return f"{month:%Y-%m}", len(output) + len(body)


def run_month() -> object:
    from api.service.archive import this_month

    return this_month()


def archive(url: str, before: str) -> tuple[float, float, str]:
    target = tempfile.mkdtemp(prefix="dealdesk-bench-archive-")
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    argv = [sys.executable, "-m", "api.cli", "decisions", "archive"]
    child = subprocess.Popen(
        [*argv, "--before", before, "--to", target], env=env, stdout=subprocess.PIPE, text=True
    )
    peak_kb = 0
    while child.poll() is None:  # VmHWM: this process's own peak since its exec (ru_maxrss
        peak_kb = max(peak_kb, high_water_kb(child.pid))  # would count the forked parent's)
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    assert child.stdout is not None
    said = child.stdout.read()
    if child.returncode != 0:
        raise SystemExit(f"the archive failed ({child.returncode})")
    peak_mb = peak_kb / 1024
    size = sum(p.stat().st_size for p in Path(target).glob("*.parquet")) / 1e6
    return seconds, peak_mb, f"{said.strip()} ({size:.0f} MB of Parquet in {target})"


def high_water_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> int:
    url = run.scratch_database("dealdesk_bench_partitions")
    for number, rates in enumerate(insert_path(url), 1):
        ratio = rates["partitioned"] / rates["unpartitioned"]
        print(
            f"insert path round {number}, {GROUPS} groups of {GROUP}: partitioned "
            f"{rates['partitioned']:,.0f} rows/s, unpartitioned {rates['unpartitioned']:,.0f} "
            f"rows/s: {ratio:.3f}x"
        )
    started = time.perf_counter()
    month, row_bytes = fill_month(url)
    print(f"filled {month} with {ARCHIVE_ROWS:,} decisions of {row_bytes:,} bytes of JSON each "
          f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    before = f"{add_months(run_month(), -1):%Y-%m}"  # type: ignore[arg-type]
    seconds, peak_mb, said = archive(url, before)
    print(f"archive of {ARCHIVE_ROWS:,} decisions: {seconds:.1f} s, peak memory {peak_mb:.0f} MB")
    print(f"  {said}")
    shutil.rmtree(said.rsplit(" in ", 1)[-1].rstrip(")"), ignore_errors=True)
    server = os.environ.get("DATABASE_URL") or run.start_embedded(ROOT / ".dealdesk")
    with psycopg.connect(server, autocommit=True) as conn:  # a gigabyte or more: not kept
        conn.execute("DROP DATABASE IF EXISTS dealdesk_bench_partitions WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
