"""Connections: the embedded PostgreSQL, the pool, the schema, and one transaction per call."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from api.errors import Invalid, Unavailable

SCHEMA_LOCK = 7_451_001
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.sql"


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
) -> ConnectionPool:
    """A pool whose connections time out statements, so an outage answers 503, never hangs."""
    kwargs = {
        "connect_timeout": connect_timeout_s,
        "options": (
            f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={statement_timeout_ms}"
        ),
        "application_name": "dealdesk",
    }
    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        kwargs=kwargs,
        open=False,
        check=ConnectionPool.check_connection,
        reconnect_timeout=0,
    )
    pool.open(wait=False)
    return pool


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    try:
        with pool.connection() as conn:
            yield conn
    except PoolTimeout:
        raise Unavailable("The database is unreachable; retry shortly.") from None
    except psycopg.errors.QueryCanceled:
        raise Unavailable("The database did not answer in time; retry shortly.") from None
    except psycopg.errors.LockNotAvailable:
        raise Unavailable("The resource is busy; retry shortly.") from None
    except psycopg.DataError:
        raise Invalid(
            "A value in the request cannot be stored (out of range or malformed)."
        ) from None
    except psycopg.OperationalError:
        raise Unavailable("The database is unreachable; retry shortly.") from None


def apply_schema(conn: psycopg.Connection) -> None:
    """Apply schema.sql; idempotent, and serialised against other processes doing the same."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
    conn.execute(SCHEMA_FILE.read_bytes())  # our own file, never input


def init_database(url: str) -> None:
    with psycopg.connect(url, autocommit=False) as conn:
        apply_schema(conn)
