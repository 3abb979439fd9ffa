"""What the benches share and bench/run.py cannot hold (run.py imports them): the sales chain
they seed, the dealdesk command, a free port, alternating on/off rounds, and events committed at
a steady rate while a `dealdesk webhooks run` process carries them out (bench/webhooks.py's
deliveries, bench/mail.py's mail)."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEALDESK = str(Path(sys.executable).parent / "dealdesk")
# account manager up to the CEO, each managed by the next (run.py's ORG adds the CFO)
CHAIN = [
    ("ceo.morgan", "ceo", None),
    ("vp.garcia", "vp_sales", "ceo.morgan"),
    ("sd.patel", "sales_director", "vp.garcia"),
    ("sm.lee", "sales_manager", "sd.patel"),
    ("am.jones", "account_manager", "sm.lee"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alternate(round_: Callable[[bool], float], rounds: int) -> tuple[float, float, float]:
    """`rounds` pairs of round_(False) then round_(True): the median rate off, the median rate
    on, and the median of the rounds' on/off ratios."""
    with_rates, without_rates, ratios = [], [], []
    for _ in range(rounds):
        without = round_(False)
        with_ = round_(True)
        without_rates.append(without)
        with_rates.append(with_)
        ratios.append(with_ / without)
    return (
        statistics.median(without_rates),
        statistics.median(with_rates),
        statistics.median(ratios),
    )


@contextmanager
def dispatcher(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A `dealdesk webhooks run` process with `env`, given two seconds to start; stopped on exit."""
    process = subprocess.Popen(
        [DEALDESK, "webhooks", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(2)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def paced(produce: Callable[[int], None], rate: int, seconds: int, workers: int) -> float:
    """produce(0), produce(1), ... at `rate` a second for `seconds` on `workers` threads; the
    seconds from the first call to the last one's return."""
    interval = 1 / rate
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as producers:
        for n in range(rate * seconds):
            wait = started + n * interval - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            producers.submit(produce, n)
    return time.perf_counter() - started


def await_all(arrived: Callable[[], int], expected: int, timeout: float = 30) -> None:
    """Poll until `arrived()` reaches `expected`, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and arrived() < expected:
        time.sleep(0.1)


def lag_figures(lags: list[float]) -> tuple[float | None, float | None, float | None]:
    """p50, p99 and max of sorted lags, each to 0.1 (None when nothing arrived)."""
    if not lags:
        return None, None, None
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    return round(statistics.median(lags), 1), round(p99, 1), round(lags[-1], 1)
