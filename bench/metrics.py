"""What /metrics costs the hot path: logged evaluations on a server with metrics (the default)
beside the same server with DEALDESK_METRICS=0, in alternating rounds in one run; and the
in-process cost of recording one request, multiprocess (files) and single-process.

    .venv/bin/python bench/metrics.py      (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS)
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.service.keys import issue_key  # noqa: E402
from bench.run import (  # noqa: E402
    ROUNDS,
    deal,
    free_port,
    load,
    scratch_database,
    seed_org,
    start_server,
)


def start(url: str, port: int, metrics: bool) -> subprocess.Popen[bytes]:
    return start_server(url, port, {"DEALDESK_METRICS": "1" if metrics else "0"})


def record_cost(multiprocess: bool, repeat: int = 20_000) -> float:
    """Microseconds to record one request (counter + histogram), in a fresh interpreter."""
    code = (
        "import time\n"
        "from api.metrics import shared\n"
        "m = shared()\n"
        "m.observe_request('/v1/evaluations', 'POST', 200, 0.004)\n"
        f"n = {repeat}\n"
        "t = time.perf_counter()\n"
        "for _ in range(n):\n"
        "    m.observe_request('/v1/evaluations', 'POST', 200, 0.004)\n"
        "    m.record_decision('needs_approval', 'evaluation')\n"
        "print((time.perf_counter() - t) / n * 1e6)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory() as where:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = where
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
    return float(done.stdout.strip())


def main() -> int:
    url = scratch_database()
    with psycopg.connect(url) as conn:
        key, _ = issue_key(conn, "bench", ["admin"], "bench")
    ports = {True: free_port(), False: free_port()}
    servers = {on: start(url, port, on) for on, port in ports.items()}
    rounds: list[dict[bool, dict[str, Any]]] = []
    try:
        seed_org(ports[True], key)
        env = {"BENCH_KEY": key, "BENCH_BODY": json.dumps(deal())}
        for i in range(ROUNDS):
            order = (True, False) if i % 2 == 0 else (False, True)
            runs = {on: load(ports[on], "/v1/evaluations", "evaluate.lua", env) for on in order}
            rounds.append(runs)
    finally:
        for server in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    def median(on: bool, field: str) -> float:
        return statistics.median(r[on][field] for r in rounds if r[on][field] is not None)

    ratio = statistics.median(r[True]["rps"] / r[False]["rps"] for r in rounds)
    failures = sum(r[on]["non_2xx"] for r in rounds for on in (True, False))
    print(f"evaluations, {ROUNDS} alternating rounds ({rounds[0][True]['tool']}):")
    for on, label in ((True, "metrics on "), (False, "metrics off")):
        print(
            f"  {label}: {median(on, 'rps'):,.0f} req/s, "
            f"p50 {median(on, 'p50_ms'):.1f} ms, p99 {median(on, 'p99_ms'):.1f} ms"
        )
    print(f"  on/off throughput (median of per-round ratios): {ratio:.3f}x; non-2xx: {failures}")
    print(
        "recording one request and its decision, in-process: "
        f"{record_cost(True):.1f} us multiprocess (files), {record_cost(False):.1f} us one process"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
