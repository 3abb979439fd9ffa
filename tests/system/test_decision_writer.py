"""kill -9 of the decision-log writer during a burst of evaluations on a real `dealdesk serve`:
every 2xx decision is in the log, the requests the writer held got 503, and the server
starts a new writer by itself and carries on through it."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.logwriter.client import RETRY_S
from api.service.keys import issue_key
from tests.http.conftest import ORG, deal
from tests.system.server import Server, call, cmdline, scrape, serving, value

WORKERS = 4
UNAVAILABLE = {
    "type": "urn:dealdesk:problem:unavailable",
    "title": "Service Unavailable",
    "status": 503,
    "detail": "The decision log writer stopped; retry shortly.",
}


@pytest.fixture()
def metrics_dir(tmp_path: Path) -> Path:
    return tmp_path / "metrics"


@pytest.fixture()
def server(db: str, metrics_dir: Path) -> Iterator[Server]:
    yield from serving(db, workers=WORKERS, env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})


@pytest.fixture()
def key(server: Server, db: str) -> str:
    with psycopg.connect(db) as conn:
        admin, _ = issue_key(conn, "writer-test", ["admin"], "test")
    for person_id, tier, manager in ORG:
        body = {"name": person_id, "tier": tier, "manager_id": manager}
        assert call(server.port, "PUT", f"/v1/people/{person_id}", body, admin)[0] == 201
    wait_for_new_writer(server)  # until it listens, evaluations go to the database directly
    return admin


def writer_pid(server: Server) -> int | None:
    return next((pid for pid, command in server.children() if "api.logwriter" in command), None)


def wait_for_new_writer(server: Server, old: int | None = None) -> int:
    """The (new) writer's pid once it listens, and the workers have looked for it again."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = writer_pid(server)
        if pid is not None and pid != old:
            path = cmdline(pid).split()[3]
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(path)
                except OSError:
                    time.sleep(0.05)
                    continue
            time.sleep(RETRY_S + 0.1)  # a worker that missed it looks again after this
            return pid
        time.sleep(0.05)
    raise AssertionError("serve did not start a new writer")


def evaluate(server: Server, key: str, deal_id: str) -> tuple[int, Any]:
    body = {"deal": deal(deal_id=deal_id, discount_pct="18"), "requested_by": "am.jones"}
    return call(server.port, "POST", "/v1/evaluations", body, key)


def logged(db: str, decision_ids: list[str]) -> set[str]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT id::text FROM decisions WHERE id = ANY(%s::uuid[])", (decision_ids,)
        ).fetchall()
    return {row[0] for row in rows}


def written(server: Server, key: str) -> float:
    samples = scrape(server.port, key)[2]
    return value(samples, "dealdesk_decision_log_rows_total", result="written")


def test_evaluations_go_through_the_writer_and_are_logged(
    server: Server, key: str, db: str
) -> None:
    assert writer_pid(server) is not None
    before = written(server, key)
    answers = [evaluate(server, key, f"W-{i}") for i in range(12)]
    assert [status for status, _ in answers] == [200] * 12
    ids = [body["decision_id"] for _, body in answers]
    assert logged(db, ids) == set(ids)
    assert written(server, key) - before == 12  # each row through the writer, none around it


def test_kill_9_of_the_writer_holding_rows_answers_503_and_recovers(
    server: Server, key: str, db: str
) -> None:
    old = writer_pid(server)
    assert old is not None
    assert evaluate(server, key, "warm-up")[0] == 200  # every worker has found the writer
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def one(deal_id: str) -> None:
        answer = evaluate(server, key, deal_id)
        with lock:
            answers.append(answer)

    with psycopg.connect(db) as blocker:  # the writer's insert waits behind this lock
        blocker.execute("LOCK TABLE decisions IN SHARE ROW EXCLUSIVE MODE")
        threads = [threading.Thread(target=one, args=(f"H-{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = blocker.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                "'dealdesk-logwriter' AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0] == 1:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the writer never waited on the lock")
        time.sleep(0.5)  # the other two rows reach the writer's socket meanwhile
        os.kill(old, signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=20)
        blocker.rollback()
    # the writer held at least the row it was inserting; a row that had not reached it when
    # it died went to the database from its worker, and waited behind the lock until the
    # statement timeout: 503 too, never a 2xx
    assert [status for status, _ in answers] == [503] * 3
    assert answers.count((503, UNAVAILABLE)) >= 1
    late = {**UNAVAILABLE, "detail": "The database did not answer in time; retry shortly."}
    assert all(body in (UNAVAILABLE, late) for _, body in answers), answers

    new = wait_for_new_writer(server, old)
    before = written(server, key)
    after = [evaluate(server, key, f"R-{i}") for i in range(20)]
    assert [status for status, _ in after] == [200] * 20
    ids = [body["decision_id"] for _, body in after]
    assert logged(db, ids) == set(ids)
    assert written(server, key) - before == 20  # through the new writer
    assert writer_pid(server) == new


def test_kill_9_of_the_writer_mid_burst_loses_no_2xx(server: Server, key: str, db: str) -> None:
    old = writer_pid(server)
    assert old is not None
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def burst(thread: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            answer = evaluate(server, key, f"B-{thread}-{n}")
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    os.kill(old, signal.SIGKILL)
    new = wait_for_new_writer(server, old)
    time.sleep(1.0)  # and on through the new writer
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    statuses = {status for status, _ in answers}
    assert statuses <= {200, 503}, statuses
    assert all(body == UNAVAILABLE for status, body in answers if status == 503)
    ids = [body["decision_id"] for status, body in answers if status == 200]
    assert len(ids) > 20
    assert logged(db, ids) == set(ids)  # every 2xx is in the log
    assert writer_pid(server) == new
    assert evaluate(server, key, "after")[0] == 200
