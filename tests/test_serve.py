"""`serve`'s hook in each forked worker: heartbeats for long streams, and under gthread a
short GIL switch interval, so a thread whose commit is confirmed runs again soon."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from api import serve
from api.http import progress


@pytest.fixture()
def restored() -> Iterator[None]:
    interval = sys.getswitchinterval()
    yield
    sys.setswitchinterval(interval)
    progress._notify, progress._last = None, 0.0


def worker(threads: int) -> SimpleNamespace:
    beats: list[int] = []
    return SimpleNamespace(
        cfg=SimpleNamespace(threads=threads),
        timeout=30,
        notify=lambda: beats.append(1),
        beats=beats,
    )


@pytest.mark.usefixtures("restored")
@pytest.mark.parametrize(
    ("threads", "interval"),
    [(8, 0.0005), (1, 0.005)],  # a sync worker has no sibling: Python's own interval stays
    ids=["gthread", "sync"],
)
def test_gthread_workers_hand_the_gil_on_within_half_a_millisecond_sync_ones_keep_5(
    threads: int, interval: float
) -> None:
    sys.setswitchinterval(0.005)
    progress._last = 0.0  # the previous beat is not throttling this one
    forked = worker(threads)
    serve._post_fork(None, forked)
    assert sys.getswitchinterval() == pytest.approx(interval)
    progress.still_working()
    assert forked.beats == [1]
