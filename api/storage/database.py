"""Connections: the embedded PostgreSQL, the pool, the schema, and one transaction per call."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from api.errors import Invalid, Unavailable
from api.storage.commits import commit_within, forget, note_unconfirmed_commits
from api.storage.migrate import SCHEMA_FILE, apply_schema, migrate

__all__ = ["SCHEMA_FILE", "apply_schema", "init_database", "open_pool", "transaction"]


def start_embedded(home: Path) -> str:
    """Start (or join) the embedded PostgreSQL under `home`; return its connection URI.

    It stops when the last process using it exits (gunicorn workers do not count).
    """
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(home.resolve()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about runtime dirs on servers
        import pgserver  # imported here: only the embedded path needs it

        pgdata = home.resolve() / "pgdata"
        server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    uri: str = server.get_uri()
    return uri


def open_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 8,
    timeout_s: float = 5.0,
    statement_timeout_ms: int = 5000,
    connect_timeout_s: int = 3,
    autocommit: bool = False,
    lazy_commit: bool = False,
    commit_timeout_s: float = 10.0,
) -> ConnectionPool:
    """A pool whose connections time out statements, so an outage answers 503, never hangs.

    `autocommit=True` makes the quick pool for single-statement reads and previews: no
    BEGIN/COMMIT round trips, and its sessions do not wait for the WAL flush on commit
    (only previews write through it; a database crash may lose the last moments of them).
    `lazy_commit=True` does the same for transactions: the webhook dispatcher's, where a
    lost moment only means a delivery is sent once more (at-least-once, same webhook-id).

    Failover: `url` may list several hosts with `target_session_attrs=read-write`; psycopg
    tries them in turn, `connect_timeout_s` each. `reconnect_timeout=0` means a failed
    reconnection is not retried on psycopg_pool's backoff schedule (1 s doubling, so 16 s
    and more apart after an outage of a few seconds) but every RETRY_S while a request waits
    for a connection, so a promoted standby is found within a second.
    A commit the synchronous standby has not confirmed within `commit_timeout_s` is
    cancelled and answered 503 (api/storage/commits.py).
    """
    options = f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={statement_timeout_ms}"
    if autocommit or lazy_commit:
        options += " -c synchronous_commit=off"
    kwargs: dict[str, object] = {
        "connect_timeout": connect_timeout_s,
        "options": options,
        "application_name": "dealdesk",
        "autocommit": autocommit,
    }
    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        kwargs=kwargs,
        open=False,
        check=_check_if_idle,
        configure=note_unconfirmed_commits,
        reconnect_timeout=0,
        reconnect_failed=_retry_while_awaited,
    )
    _commit_timeouts[pool] = commit_timeout_s
    pool.open(wait=False)
    return pool


RETRY_S = 0.5


def _retry_while_awaited(pool: ConnectionPool) -> None:
    """psycopg_pool gave up a connection attempt (with reconnect_timeout=0, after two tries)
    and grows again only when a new request arrives; callers already waiting would sit out
    their whole timeout. So while any wait, try again shortly (`check` grows the pool)."""
    if pool.closed or not pool.get_stats().get("requests_waiting", 0):
        return
    retry = threading.Timer(RETRY_S, _check_quietly, (pool,))
    retry.daemon = True
    retry.start()


def _check_quietly(pool: ConnectionPool) -> None:
    with contextlib.suppress(Exception):  # closed meanwhile: nothing to retry for
        pool.check()


_commit_timeouts: weakref.WeakKeyDictionary[ConnectionPool, float] = weakref.WeakKeyDictionary()
UNCONFIRMED = (
    "The standby did not confirm the commit; it is not acknowledged (it may or may not "
    "persist after a failover): retry shortly, with the same Idempotency-Key."
)


IDLE_PING_S = 2.0
_last_used: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()


def _check_if_idle(conn: psycopg.Connection) -> None:
    """Ping a connection only when it sat idle: a hot connection is known good, and a ping
    on every checkout costs a round trip per request. A server restart is still noticed.

    The time of last use is noted by `transaction()`, not by a pool `reset` callback: with
    one, psycopg_pool hands every returned connection to a worker thread (a queue put and a
    thread wake-up per request, which profiling showed in every request)."""
    if time.monotonic() - _last_used.get(conn, 0.0) > IDLE_PING_S:
        ConnectionPool.check_connection(conn)


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """One transaction: committed when the block ends, rolled back if it raises.

    On an autocommit pool (the quick pool) each statement commits on its own instead.
    Database failures become domain errors here, at the storage boundary."""
    try:
        with pool.connection() as conn:
            forget(conn)
            yield conn
            if not commit_within(conn, _commit_timeouts.get(pool, 10.0)):
                raise Unavailable(UNCONFIRMED)
            _last_used[conn] = time.monotonic()
    except PoolTimeout:
        raise Unavailable("The database is unreachable; retry shortly.") from None
    except psycopg.errors.QueryCanceled:
        raise Unavailable("The database did not answer in time; retry shortly.") from None
    except psycopg.errors.LockNotAvailable:
        raise Unavailable("The resource is busy; retry shortly.") from None
    except psycopg.errors.ReadOnlySqlTransaction:  # a standby, or a primary being demoted
        raise Unavailable("The database is read-only just now; retry shortly.") from None
    except psycopg.DataError:
        raise Invalid(
            "A value in the request cannot be stored (out of range or malformed)."
        ) from None
    except psycopg.OperationalError:
        raise Unavailable("The database is unreachable; retry shortly.") from None


def init_database(url: str) -> None:
    """Bring the database to the current schema (`dealdesk db migrate`)."""
    migrate(url)
