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
def test_a_gthread_worker_hands_the_gil_on_within_half_a_millisecond() -> None:
    sys.setswitchinterval(0.005)
    progress._last = 0.0
    forked = worker(threads=8)
    serve._post_fork(None, forked)
    assert sys.getswitchinterval() == pytest.approx(serve.SWITCH_INTERVAL_S)
    assert serve.SWITCH_INTERVAL_S == 0.0005
    progress.still_working()
    assert forked.beats == [1]


@pytest.mark.usefixtures("restored")
def test_a_sync_worker_keeps_pythons_interval() -> None:
    sys.setswitchinterval(0.005)
    progress._last = 0.0
    forked = worker(threads=1)
    serve._post_fork(None, forked)
    assert sys.getswitchinterval() == pytest.approx(0.005)
    progress.still_working()
    assert forked.beats == [1]
