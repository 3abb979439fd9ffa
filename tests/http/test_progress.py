"""Long streams heartbeat gunicorn's worker as they go, at most once a second."""

from __future__ import annotations

import pytest

from api.http import progress


class Worker:
    """gunicorn's worker as progress uses it: something with notify()."""

    def __init__(self, timeout: float = 30) -> None:
        self.beats = 0
        self.timeout = timeout

    def notify(self) -> None:
        self.beats += 1


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(progress, "monotonic", lambda: now[0])
    monkeypatch.setattr(progress, "_last", 0.0)
    monkeypatch.setattr(progress, "_notify", None)
    monkeypatch.setattr(progress, "_every", progress.EVERY_S)
    return now


def test_without_a_worker_nothing_happens(clock: list[float]) -> None:
    progress.still_working()
    assert progress._last == 0.0


def test_beats_at_most_once_a_second(clock: list[float]) -> None:
    worker = Worker()
    progress.attach(worker)
    progress.still_working()
    clock[0] += 0.5
    progress.still_working()
    assert worker.beats == 1
    clock[0] += 0.5
    progress.still_working()
    assert worker.beats == 2


def test_heartbeating_passes_items_through_and_beats_every_n(clock: list[float]) -> None:
    worker = Worker()
    progress.attach(worker)
    seen = []
    for item in progress.heartbeating(range(25), every=10):
        seen.append(item)
        clock[0] += 0.2  # 2 s between beats at items 0, 10 and 20
    assert seen == list(range(25))
    assert worker.beats == 3


def test_a_short_worker_timeout_gets_four_beats_per_timeout(clock: list[float]) -> None:
    worker = Worker(timeout=2)
    progress.attach(worker)
    for _ in range(8):  # 2 s in steps of 0.25 s
        progress.still_working()
        clock[0] += 0.25
    assert worker.beats == 4
