"""Group commit for the decision log: previews that arrive while a write is in flight go to
the database together in the next statement, so a busy process pays one round trip and one
commit for many of them. Every caller still returns only after its own row is committed.

Every group commits durably (the transactional pool) before any of its callers returns. Under
`serve` the workers send their rows to the decision-log writer process instead
(api/logwriter), which groups rows across workers; this class is its fallback and what a
process without a writer (tests, an embedded app) uses.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from psycopg_pool import ConnectionPool

from api.errors import Invalid
from api.storage.database import transaction
from api.storage.decisions import Preview, insert_previews


class DecisionLog(Protocol):
    def write(self, preview: Preview) -> bool:
        """Commit one preview durably; False when its registry or policy generation was no
        longer current (nothing is written then)."""
        ...


@dataclass(slots=True)
class _Slot:
    preview: Preview
    done: bool = False
    written: bool = False
    error: BaseException | None = None


class PreviewLog:
    """Leader/follower group commit: the first caller to find no write in flight writes
    everything queued so far; the others wait for it and the next leader takes the rest."""

    def __init__(self, pool: ConnectionPool, *, check_policy: bool = True) -> None:
        self._pool = pool
        self._check_policy = check_policy
        self._ready = threading.Condition()
        self._queue: list[_Slot] = []
        self._busy = False

    def write(self, preview: Preview) -> bool:
        """Commit one preview; False when its registry or policy generation was no longer
        current (nothing is written then)."""
        slot = _Slot(preview)
        with self._ready:
            self._queue.append(slot)
            while self._busy and not slot.done:
                self._ready.wait()
            if not slot.done:
                batch, self._queue, self._busy = self._queue, [], True
        if not slot.done:
            self._lead(batch)
        if slot.error is not None:
            raise slot.error
        return slot.written

    def _lead(self, batch: list[_Slot]) -> None:
        try:
            self._flush(batch)
        finally:
            with self._ready:
                for member in batch:
                    member.done = True
                self._busy = False
                self._ready.notify_all()

    def _flush(self, batch: list[_Slot]) -> None:
        try:
            written = self._insert([s.preview for s in batch])
        except Invalid as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for member in batch:  # one unstorable row must not fail its neighbours
                self._flush([member])
            return
        except Exception as exc:
            for member in batch:
                member.error = exc
            return
        for member in batch:
            member.written = member.preview.id in written

    def _insert(self, previews: Sequence[Preview]) -> set[uuid.UUID]:
        with transaction(self._pool) as conn:
            return insert_previews(conn, previews, check_policy=self._check_policy)
