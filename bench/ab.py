"""Two `dealdesk serve` configurations side by side: `/healthz` and logged evaluations on
each, in alternating rounds on one scratch database, so that a change of settings is
measured against the defaults in the same minutes of a noisy machine.

    .venv/bin/python bench/ab.py DEALDESK_WORKERS=8
    .venv/bin/python bench/ab.py DEALDESK_THREADS=2 --base DEALDESK_WORKERS=4

Each NAME=VALUE goes into the environment of server B (after `--base`: of server A, the
defaults otherwise). BENCH_SECONDS, BENCH_ROUNDS and BENCH_CONNECTIONS apply as in run.py.
Prints each round (req/s of A /healthz, A evaluations, B /healthz, B evaluations), the
medians with p50/p99 and CPU per request, and each side's ratio.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import run  # noqa: E402


def settings(words: list[str]) -> dict[str, str]:
    pairs = [word.partition("=") for word in words]
    bad = [word for word, (_, eq, _) in zip(words, pairs, strict=True) if not eq]
    if bad:
        raise SystemExit(f"not NAME=VALUE: {' '.join(bad)}")
    return {name: value for name, _, value in pairs}


def main(argv: list[str]) -> int:
    base: list[str] = []
    if "--base" in argv:
        at = argv.index("--base")
        argv, base = argv[:at], argv[at + 1 :]
    env_a, env_b = settings(base), settings(argv)
    url = run.scratch_database("dealdesk_bench_ab")
    with psycopg.connect(url) as conn:
        key, _ = run.issue_key(conn, "bench", ["admin"], "bench")
        run.POSTMASTER.append(run.cpu.postmaster_pid(conn))
    ports = run.free_port(), run.free_port()
    servers = [
        run.start_server(url, port, env) for port, env in zip(ports, (env_a, env_b), strict=True)
    ]
    try:
        run.seed_org(ports[0], key)  # one database behind both
        load = {"BENCH_KEY": key, "BENCH_BODY": json.dumps(run.deal())}
        load["BENCH_RUN"] = str(int(time.time()))
        report(run.alternating(ports[0], load, before=ports[1]), env_a, env_b)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return 0


def report(result: dict[str, Any], env_a: dict[str, str], env_b: dict[str, str]) -> None:
    a, b = result, result["before"]
    rounds = zip(
        a["healthz"]["rounds"],
        a["evaluations"]["rounds"],
        b["healthz"]["rounds"],
        b["evaluations"]["rounds"],
        strict=True,
    )
    for number, runs in enumerate(rounds, 1):
        rates = [round(r["rps"]) for r in runs]
        print(
            f"round {number}: req/s {rates}  ratios A {rates[1] / rates[0]:.3f}"
            f"  B {rates[3] / rates[2]:.3f}"
        )
    for name, side, env in (("A", a, env_a), ("B", b, env_b)):
        print(f"{name} {' '.join(f'{k}={v}' for k, v in env.items()) or '(defaults)'}")
        for path in ("healthz", "evaluations"):
            x = side[path]
            print(
                f"  {path:12s} {x['rps']:7.0f} req/s  p50 {x['p50_ms']:.1f} / p99 "
                f"{x['p99_ms']:.1f} ms  non-2xx {x['non_2xx']}  CPU per request {x.get('cpu')}"
            )
        print(f"  ratio {side['ratio']:.3f} (median of the rounds' ratios)")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
