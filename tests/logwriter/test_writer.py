"""The decision-log writer on a real PostgreSQL and real Unix sockets: rows from many
connections commit together, each caller returns only after its own row is committed, the
generation guard and unstorable rows answer per row, and a writer that dies holding a row
makes its caller fail (503), never succeed."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from api.errors import Invalid, Unavailable
from api.logwriter.client import MARGIN_S, SocketLog
from api.logwriter.protocol import HEADER, frame
from api.logwriter.server import Writer
from api.metrics import shared
from api.storage.decisions import preview_row
from api.storage.preview_log import PreviewLog
from tests.storage.test_preview_log import generation, preview, stored

__all__ = ["generation"]  # the fixture, shared with the in-process group commit's tests


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "decisions.sock"


@pytest.fixture()
def writer(db: str, path: Path) -> Iterator[Writer]:
    running = Writer(db, path, metrics=shared())
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    while not path.exists():
        threading.Event().wait(0.01)
    yield running
    running.stop()
    thread.join(timeout=5)


@pytest.fixture()
def log(writer: Writer, path: Path, pool: ConnectionPool) -> Iterator[SocketLog]:
    client = SocketLog(path, PreviewLog(pool), statement_timeout_ms=5000)
    yield client
    client.close()


def groups_and_rows() -> tuple[float, float]:
    histogram = shared().log_group
    samples = {s.name: s.value for m in histogram.collect() for s in m.samples}
    return samples["dealdesk_decision_log_group_rows_count"], samples[
        "dealdesk_decision_log_group_rows_sum"
    ]


def test_rows_from_many_connections_commit_together(
    log: SocketLog, db: str, generation: int
) -> None:
    groups, rows = groups_and_rows()
    seen: dict[uuid.UUID, bool] = {}
    with psycopg.connect(db) as blocker:  # hold the first group, so the others queue up
        blocker.execute("LOCK TABLE decisions IN SHARE ROW EXCLUSIVE MODE")

        def one() -> None:
            row = preview(generation)
            written = log.write(row)
            assert row.id in stored(db)  # committed by the time write() returned
            seen[row.id] = written

        threads = [threading.Thread(target=one) for _ in range(8)]
        for thread in threads:
            thread.start()
        threading.Event().wait(0.5)
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 8
    assert all(seen.values())
    assert stored(db) == set(seen)
    after_groups, after_rows = groups_and_rows()
    assert after_rows - rows == 8
    assert after_groups - groups <= 3  # the first row alone, then the seven that waited


def test_a_stale_generation_is_refused_row_by_row(log: SocketLog, db: str, generation: int) -> None:
    assert log.write(preview(generation - 1)) is False
    current = preview(generation)
    assert log.write(current) is True
    assert stored(db) == {current.id}


def test_one_unstorable_row_spares_its_group(
    writer: Writer, path: Path, db: str, generation: int
) -> None:
    rows = [preview(generation) for _ in range(3)]
    bad = preview(generation, output=b'{"outcome": "\\u0000"}')  # jsonb refuses NUL
    sent = [rows[0], bad, rows[1], rows[2]]
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        sock.sendall(b"".join(frame(p.id, preview_row(p)) for p in sent))  # one group
        verdicts = b""
        while len(verdicts) < 4:
            verdicts += sock.recv(4)
    assert verdicts == b"WIWW"
    assert stored(db) == {p.id for p in rows}


def test_an_unstorable_row_is_invalid_for_its_caller(
    log: SocketLog, db: str, generation: int
) -> None:
    with pytest.raises(Invalid):
        log.write(preview(generation, output=b'{"outcome": "\\u0000"}'))
    assert stored(db) == set()


def test_without_a_writer_rows_go_to_the_database_directly(
    path: Path, pool: ConnectionPool, db: str, generation: int
) -> None:
    log = SocketLog(path, PreviewLog(pool), statement_timeout_ms=5000)  # nothing listens
    row = preview(generation)
    assert log.write(row) is True
    assert stored(db) == {row.id}


def test_a_writer_that_dies_holding_a_row_fails_its_caller(
    path: Path, pool: ConnectionPool, db: str, generation: int
) -> None:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    received: list[int] = []

    def die_after_reading() -> None:
        conn, _ = listener.accept()
        (length,) = HEADER.unpack(conn.recv(HEADER.size, socket.MSG_WAITALL))
        received.append(len(conn.recv(length, socket.MSG_WAITALL)))
        conn.close()  # as a writer killed mid-commit: no verdict

    thread = threading.Thread(target=die_after_reading)
    thread.start()
    log = SocketLog(path, PreviewLog(pool), statement_timeout_ms=5000)
    row = preview(generation)
    with pytest.raises(Unavailable) as refused:
        log.write(row)
    thread.join(timeout=5)
    listener.close()
    assert refused.value.detail == "The decision log writer stopped; retry shortly."
    assert received == [16 + len(preview_row(row))]
    assert stored(db) == set()
    path.unlink()
    later = preview(generation)  # no writer now: the next row goes to the database itself
    assert log.write(later) is True
    assert stored(db) == {later.id}


def test_a_writer_that_never_answers_fails_its_caller_after_the_limit(
    path: Path, pool: ConnectionPool, db: str, generation: int
) -> None:
    """The kernel's time limit on the socket: a writer that takes the row and hangs costs
    its caller the statement timeout plus the margin, then 503, never a 2xx."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    taken = threading.Event()
    release = threading.Event()

    def hang_after_reading() -> None:
        conn, _ = listener.accept()
        (length,) = HEADER.unpack(conn.recv(HEADER.size, socket.MSG_WAITALL))
        conn.recv(length, socket.MSG_WAITALL)
        taken.set()
        release.wait(10)  # holds the connection open, answering nothing
        conn.close()

    thread = threading.Thread(target=hang_after_reading)
    thread.start()
    log = SocketLog(path, PreviewLog(pool), statement_timeout_ms=100)
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable) as refused:
            log.write(preview(generation))
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join(timeout=5)
        listener.close()
    assert taken.is_set()
    assert refused.value.detail == "The decision log writer stopped; retry shortly."
    assert 0.1 + MARGIN_S - 0.05 <= waited < 0.1 + MARGIN_S + 1.5
    assert stored(db) == set()
