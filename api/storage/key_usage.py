"""`api_keys.last_used_at`, kept to the minute and never on an answer's path.

A request notes its key in memory (a dictionary lookup); at most once a minute per key that
note becomes pending, and a background thread writes the pending ones in one UPDATE on the
autocommit pool. The column is outside the registry generation's trigger (schema.sql), so the
write never invalidates the evaluation path's snapshot."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from api.storage.database import transaction

log = logging.getLogger("dealdesk.keys")
EVERY_S = 60.0
GATHER_S = 1.0
IDLE_S = 10.0
TOUCH = """
UPDATE api_keys AS k SET last_used_at = u.at
FROM unnest(%s::bigint[], %s::timestamptz[]) AS u(id, at)
WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
"""


class KeyUsage:
    def __init__(self, pool: ConnectionPool, every_s: float = EVERY_S) -> None:
        self._pool = pool
        self._every_s = every_s
        self._noted: dict[int, float] = {}
        self._pending: dict[int, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def note(self, key_id: int, now: float | None = None) -> None:
        """Called for every authenticated request: cheap unless a minute has passed."""
        at = time.time() if now is None else now
        if at - self._noted.get(key_id, -self._every_s) < self._every_s:
            return
        with self._lock:
            self._noted[key_id] = at
            self._pending[key_id] = at
            self._wake.set()
            if self._thread is None or self._pid != os.getpid():  # none yet, or forked
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="key-usage", daemon=True)
                self._thread.start()

    def flush(self) -> int:
        """Write what is pending; the number of keys written. Errors are logged, not raised."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending or self._pool.closed:
            return 0
        ids = list(pending)
        stamps = [datetime.fromtimestamp(pending[i], UTC) for i in ids]
        try:
            with transaction(self._pool) as conn:
                conn.execute(TOUCH, (ids, stamps))
        except Exception as exc:  # the database is away: the next minute's note retries
            log.warning("keys: last_used_at not written: %s", type(exc).__name__)
            with self._lock:
                for key_id in ids:
                    self._noted.pop(key_id, None)
            return 0
        return len(ids)

    def _run(self) -> None:
        """Write, gather a second's notes, repeat; end after IDLE_S with nothing to write."""
        while True:
            if not self._wake.wait(timeout=IDLE_S):
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
            self._wake.clear()
            self.flush()
            time.sleep(GATHER_S)
