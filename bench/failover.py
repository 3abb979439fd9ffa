"""Failover under load: the time from the primary's loss to the first 2xx on the promoted
standby, the 503s in between, and whether every acknowledged write survived.

Builds a primary and a synchronous standby on loopback from pgserver's binaries (the
harness of tests/system/test_failover.py), starts `dealdesk serve` with both hosts in
DATABASE_URL, runs submissions and evaluations (2 threads each) and kills the primary
(`pg_ctl stop -m immediate`); the standby is promoted after each gap in BENCH_FAILOVER_GAPS
(seconds, default "1,6": an operator's or Patroni's quick promotion, and one longer than
the pool's 5 s wait). Run with `python bench/failover.py`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.system.failover_load import Answer, Load, missing_on, start_server  # noqa: E402
from tests.system.replication import Pair  # noqa: E402

GAPS = [float(g) for g in os.environ.get("BENCH_FAILOVER_GAPS", "1,6").split(",")]
SETTLE_S = 3.0


def ok(answer: Answer) -> bool:
    return answer.status in (200, 201)


def one_failover(gap: float) -> dict[str, float]:
    pair = Pair()
    try:
        pair.start()
        server, key = start_server(pair)
        try:
            load = Load(server.port, key)
            load.start()
            time.sleep(SETTLE_S)
            killed = time.monotonic()
            pair.kill_primary()
            time.sleep(gap)
            promoted = time.monotonic()
            pair.promote()
            deadline = promoted + 60
            while time.monotonic() < deadline and not any(
                ok(a) and a.ended >= promoted for a in load.snapshot()
            ):
                time.sleep(0.02)
            time.sleep(SETTLE_S)
            load.finish()
        finally:
            server.kill(15)
        answers = load.snapshot()
        first = min(a.ended for a in answers if ok(a) and a.ended >= promoted)
        between = [a for a in answers if a.ended >= killed and a.ended <= first and not ok(a)]
        missing = missing_on(pair.node_url(pair.standby_port), answers)
        return {
            "gap_s": gap,
            "loss_to_first_2xx_s": first - killed,
            "promotion_to_first_2xx_s": first - promoted,
            "503s_between": sum(a.status == 503 for a in between),
            "other_failures": sum(a.status != 503 for a in between),
            "acknowledged": sum(ok(a) for a in answers),
            "missing_after": len(missing[0]) + len(missing[1]),
        }
    finally:
        pair.cleanup()


def main() -> int:
    for gap in GAPS:
        r = one_failover(gap)
        print(
            f"failover, promoted {gap:g} s after the loss: first 2xx "
            f"{r['loss_to_first_2xx_s']:.2f} s after the loss "
            f"({r['promotion_to_first_2xx_s']:.2f} s after promotion); "
            f"{r['503s_between']:.0f} answers 503 in between, {r['other_failures']:.0f} other; "
            f"{r['acknowledged']:.0f} acknowledged, {r['missing_after']:.0f} missing afterwards",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
