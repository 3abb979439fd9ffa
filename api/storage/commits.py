"""Commits a synchronous standby has not confirmed are not acknowledged.

With `synchronous_standby_names` set, PostgreSQL's COMMIT waits for the standby, and with
the standby gone it waits forever: `statement_timeout` does not end that wait, a cancel
does. Cancelled, COMMIT *returns success* with only a WARNING (SQLSTATE 01000) "canceling
wait for synchronous replication due to user request": the row is on the primary alone and
lost if it fails over now. So every connection notes that warning (a notice handler), and
a watchdog thread cancels a commit that outlives its deadline; the caller then answers 503,
never 2xx (api/storage/database.py's `transaction`, the decision-log writer).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Iterator

import psycopg
from psycopg.errors import Diagnostic

WATCH_EVERY_S = 0.1
CANCEL_TIMEOUT_S = 2.0
SYNC_REP = "synchronous replication"

_unconfirmed: weakref.WeakSet[psycopg.Connection] = weakref.WeakSet()


def note_unconfirmed_commits(conn: psycopg.Connection) -> None:
    """Install the notice handler (once per connection: a pool's `configure`)."""
    ref = weakref.ref(conn)

    def on_notice(diag: Diagnostic) -> None:
        if diag.sqlstate == "01000" and SYNC_REP in (diag.message_primary or ""):
            target = ref()
            if target is not None:
                _unconfirmed.add(target)

    conn.add_notice_handler(on_notice)


def forget(conn: psycopg.Connection) -> None:
    """At the start of a transaction: earlier warnings were answered already."""
    _unconfirmed.discard(conn)


def unconfirmed(conn: psycopg.Connection) -> bool:
    """Whether the standby's confirmation was given up on since `forget`."""
    return conn in _unconfirmed


class Watchdog:
    """Cancels what a connection runs once its deadline passes; one thread per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadlines: dict[psycopg.Connection, float] = {}
        self._fired: set[psycopg.Connection] = set()
        self._thread: threading.Thread | None = None

    def watch(self, conn: psycopg.Connection, seconds: float) -> None:
        with self._lock:
            self._deadlines[conn] = time.monotonic() + seconds
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="commit-watch", daemon=True)
                self._thread.start()

    def done(self, conn: psycopg.Connection) -> bool:
        """Stop watching; True when the watchdog cancelled it (close the connection then)."""
        with self._lock:
            self._deadlines.pop(conn, None)
            if conn in self._fired:
                self._fired.discard(conn)
                return True
            return False

    def _run(self) -> None:
        while True:
            time.sleep(WATCH_EVERY_S)
            now = time.monotonic()
            with self._lock:
                late = [c for c, t in self._deadlines.items() if t <= now and c not in self._fired]
                self._fired.update(late)
            for conn in late:
                with contextlib.suppress(psycopg.Error):
                    conn.cancel_safe(timeout=CANCEL_TIMEOUT_S)


WATCHDOG = Watchdog()


@contextlib.contextmanager
def bounded(conn: psycopg.Connection, seconds: float) -> Iterator[None]:
    """Run the block (a commit, or an autocommit statement) with its wait for the standby
    cancelled after `seconds`. Afterwards `unconfirmed(conn)` says whether the standby's
    confirmation was given up on. A cancelled connection is closed: a cancel may still be
    on its way to it, so it is never reused."""
    WATCHDOG.watch(conn, seconds)
    try:
        yield
    finally:
        if WATCHDOG.done(conn):
            _unconfirmed.add(conn)
            conn.close()


def commit_within(conn: psycopg.Connection, seconds: float) -> bool:
    """Commit within `seconds`: True when confirmed; False when it is not acknowledged
    (cancelled, or the server gave up waiting), and the caller must answer 503."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return not unconfirmed(conn)  # autocommit, or nothing to commit
    with bounded(conn, seconds):
        conn.commit()
    return not unconfirmed(conn)
