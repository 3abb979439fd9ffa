"""What following the fleet's policy set costs an evaluation: the same load on two servers on
one database, one as shipped and one started with DEALDESK_BENCH_SKIP_POLICY_CHECK=1 (its
guarded insert does not compare the policy generation), in alternating rounds in one run.
The ratio is the median of the rounds' checked/unchecked throughput ratios; target >= 0.95.

Run alone with `.venv/bin/python bench/policy_follow.py` (its own scratch database), or as
part of `make bench` (bench/run.py), which passes its server in.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402


def measure(url: str, checked_port: int, env: dict[str, str]) -> dict[str, Any]:
    """Alternate evaluation loads between the running server and an unchecked one."""
    port = run.free_port()
    unchecked = run.start_server(url, port, {"DEALDESK_BENCH_SKIP_POLICY_CHECK": "1"})
    rounds = []
    try:
        for _ in range(run.ROUNDS):
            with_check = run.load(checked_port, "/v1/evaluations", "evaluate.lua", env)
            without = run.load(port, "/v1/evaluations", "evaluate.lua", env)
            rounds.append((with_check, without))
    finally:
        os.killpg(unchecked.pid, signal.SIGTERM)
        unchecked.wait(timeout=30)
    ratios = [c["rps"] / u["rps"] for c, u in rounds if u["rps"]]
    statement = statement_cost(url)
    return {
        "statement": statement,
        "checked_rps": statistics.median(c["rps"] for c, _ in rounds),
        "unchecked_rps": statistics.median(u["rps"] for _, u in rounds),
        "checked_p99_ms": statistics.median(c["p99_ms"] or 0.0 for c, _ in rounds),
        "unchecked_p99_ms": statistics.median(u["p99_ms"] or 0.0 for _, u in rounds),
        "ratio": statistics.median(ratios) if ratios else 0.0,
        "non_2xx": sum(c["non_2xx"] + u["non_2xx"] for c, u in rounds),
        "rounds": [{"checked": c, "unchecked": u} for c, u in rounds],
        "tool": rounds[0][0]["tool"] if rounds else None,
    }


def statement_cost(url: str, rows: int = 3000) -> dict[str, Any]:
    """The guarded insert alone, one preview per statement, with and without the policy
    generation in its WHERE clause: the two interleaved row by row (the first of each pair
    alternating), so load on a shared machine falls on both alike. Median microseconds."""
    from datetime import UTC, date, datetime

    from api.ids import uuid7
    from api.storage.database import open_pool, transaction
    from api.storage.decisions import Preview, insert_previews
    from api.storage.registry import current_generation

    pool = open_pool(url, max_size=1, autocommit=True)
    timings: dict[bool, list[float]] = {True: [], False: []}
    try:
        with transaction(pool) as conn:
            registry = current_generation(conn)
            found = conn.execute("SELECT generation FROM policy_set").fetchone()
            policy = int(found[0]) if found else 0
        for i in range(rows):
            for check in (True, False) if i % 2 else (False, True):
                row = Preview(
                    uuid7(),
                    datetime.now(UTC),
                    date(2026, 12, 29),
                    "B-1",
                    "am.jones",
                    "am.jones",
                    b'{"deal": {}}',
                    b'{"outcome": "approved"}',
                    "approved",
                    "sha",
                    b"[]",
                    registry,
                    policy,
                )
                started = time.perf_counter()
                with transaction(pool) as conn:
                    assert insert_previews(conn, [row], check_policy=check)
                timings[check].append((time.perf_counter() - started) * 1e6)
    finally:
        pool.close()
    checked, unchecked = statistics.median(timings[True]), statistics.median(timings[False])
    return {"checked_us": checked, "unchecked_us": unchecked, "extra_us": checked - unchecked}


def report(r: dict[str, Any]) -> None:
    print(
        f"{'evaluations, policy check on/off':32} {r['checked_rps']:>10.0f} / "
        f"{r['unchecked_rps']:.0f} req/s  p99 {r['checked_p99_ms']:.1f} / "
        f"{r['unchecked_p99_ms']:.1f} ms{'':14} {r['ratio']:.3f}x, median of "
        f"{run.ROUNDS} alternating rounds (target >= 0.95x)"
    )
    if "statement" in r:
        st = r["statement"]
        print(
            f"{'guarded insert, check on/off':32} {st['checked_us']:>10.0f} / "
            f"{st['unchecked_us']:.0f} us per statement (+{st['extra_us']:.0f} us)"
        )


def main() -> int:
    url = run.scratch_database()
    with psycopg.connect(url) as conn:
        key, _ = run.issue_key(conn, "bench", ["admin"], "bench")
    port = run.free_port()
    server = run.start_server(url, port)
    try:
        run.seed_org(port, key)
        env = {
            "BENCH_KEY": key,
            "BENCH_BODY": json.dumps(run.deal()),
            "BENCH_RUN": str(int(time.time())),
        }
        result = measure(url, port, env)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    report(result)
    out = ROOT / "bench" / "results.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["policy_check"] = {"seconds": run.SECONDS, "results": result}
    out.write_text(json.dumps(existing, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
