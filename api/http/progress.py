"""Long streaming responses tell gunicorn's master they are still making progress.

A sync worker heartbeats only between requests, so the master kills any request that runs
past the worker timeout (`DEALDESK_WORKER_TIMEOUT`, 30 s), even a CSV export of a million
overrides that is streaming steadily. Work that streams calls `still_working()` as it goes:
while it makes progress the worker stays alive, and a request that truly hangs is still
killed. Outside gunicorn (tests, the CLI) there is no worker and it does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from time import monotonic
from typing import Any, TypeVar

T = TypeVar("T")
EVERY_S = 1.0

_notify: Callable[[], None] | None = None
_every = EVERY_S
_last = 0.0


def attach(worker: Any) -> None:
    """gunicorn's post_fork hook: heartbeats go to this worker (one per process), at least
    four times per worker timeout."""
    global _notify, _every
    _notify = worker.notify
    _every = min(EVERY_S, worker.timeout / 4)


def still_working() -> None:
    """Touch the worker's heartbeat (a file-time update), at most once a second or four
    times per worker timeout, whichever is more often."""
    global _last
    if _notify is None:
        return
    now = monotonic()
    if now - _last >= _every:
        _last = now
        _notify()


def heartbeating(items: Iterable[T], every: int = 10_000) -> Iterator[T]:
    """`items` unchanged, with `still_working()` every `every` items."""
    for count, item in enumerate(items):
        if count % every == 0:
            still_working()
        yield item
