"""The audit chain under concurrent writers in several processes, and the CLI verify/export."""

from __future__ import annotations

import multiprocessing
import os
import threading

import psycopg
import pytest

from api.audit.chain import verify
from api.cli import main
from api.storage.audit import append_event, chain_rows, read_ahead

WRITERS, EACH = 4, 25


def _write(url: str, writer: int) -> None:
    for i in range(EACH):
        with psycopg.connect(url) as conn:
            append_event(
                conn, "test.event", f"writer-{writer}", f"n:{i}", {"i": i, "pid": os.getpid()}
            )


def test_concurrent_processes_never_fork_the_chain(db: str) -> None:
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write, args=(db, w)) for w in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * WRITERS
    with psycopg.connect(db) as conn:
        result = verify(chain_rows(conn))
        actors = conn.execute(
            "SELECT count(DISTINCT payload->>'pid'), count(*) FROM audit_events"
        ).fetchone()
    assert (result.ok, result.events) == (True, WRITERS * EACH)
    assert actors == (WRITERS, WRITERS * EACH)


def test_cli_verify_and_tamper(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", db)
    _write(db, 0)
    assert main(["audit", "verify"]) == 0
    assert '"ok": true, "events": 25' in capsys.readouterr().out
    with psycopg.connect(db) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE audit_events SET subject = 'n:x' WHERE id = 7")
    assert main(["audit", "verify"]) == 1
    assert '"first_bad_event_id": 7' in capsys.readouterr().out


def test_the_walk_reads_ahead_across_batches_and_stops_cleanly(db: str) -> None:
    _write(db, 0)
    with psycopg.connect(db) as conn:
        assert verify(chain_rows(conn, batch=3)) == verify(chain_rows(conn))
        assert verify(chain_rows(conn, batch=3)).events == EACH
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE audit_events SET subject = 'n:x' WHERE id = 7")
        result = verify(chain_rows(conn, batch=2))  # stops mid-walk, a batch in flight
        assert (result.ok, result.events, result.first_bad_event_id) == (False, 7, 7)
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == (EACH,)
    assert not [t for t in threading.enumerate() if t.name == "audit-read-ahead"]


def test_a_failed_fetch_is_raised_to_the_reader() -> None:
    batches = iter([[1, 2], [3]])

    def fetch() -> list[int]:
        try:
            return next(batches)
        except StopIteration:
            raise psycopg.errors.QueryCanceled("statement timeout") from None

    seen = []
    with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
        for item in read_ahead(fetch):
            seen.append(item)
    assert seen == [1, 2, 3]
