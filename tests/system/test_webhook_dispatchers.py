"""Dispatcher processes (`dealdesk webhooks run`) against one database and a real receiver:
kill -9 mid-stream loses nothing, two at once never have a delivery in flight twice, and
`dealdesk serve` takes its dispatcher down with it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from api.dispatch.egress import Egress
from api.events.types import EventType
from api.service import webhooks
from api.service.sealing import SecretBox
from api.storage import outbox
from api.storage.database import transaction
from tests.conftest import ROOT
from tests.system.server import DEALDESK, Server, call, children, cmdline, free_port
from tests.webhooks.receiver import Receiver, running, verified

KEY = "system-test-secret-key-0123456789abcdef"
ENV = {
    "DEALDESK_SECRET_KEY": KEY,
    "DEALDESK_WEBHOOK_ALLOW_NETS": "127.0.0.0/8",
    "DEALDESK_WEBHOOK_ALLOW_HTTP": "1",
    "DEALDESK_WEBHOOK_LEASE_S": "5",
    "DEALDESK_WEBHOOK_TIMEOUT_S": "1",
    "DEALDESK_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2",
}
CTX = webhooks.Context(
    datetime.now(UTC), "test", SecretBox(KEY), Egress.parse(("127.0.0.0/8",), True)
)


def dispatcher(db: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [DEALDESK, "webhooks", "run", "--threads", "4"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with running(Receiver()) as r:
        yield r


def subscribe(pool: ConnectionPool, url: str) -> tuple[int, str]:
    with transaction(pool) as conn:
        sub, secret = webhooks.create(conn, CTX, url, ["*"], None)
    return sub.id, secret


def burst(pool: ConnectionPool, count: int) -> set[str]:
    """`count` events in one transaction, fanned out to every subscription."""
    with transaction(pool) as conn:
        return {
            outbox.emit(conn, EventType.WEBHOOK_TEST, n, datetime.now(UTC), {"n": n}).id
            for n in range(1, count + 1)
        }


def delivered(db: str) -> list[tuple[str, int]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"
        ).fetchall()


def test_kill_9_of_the_dispatcher_mid_stream_loses_nothing(
    pool: ConnectionPool, db: str, receiver: Receiver
) -> None:
    _, secret = subscribe(pool, receiver.url)
    receiver.delay_s = 0.01
    ids = burst(pool, 200)
    first = dispatcher(db)
    try:
        receiver.wait_for(40, timeout=30)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    assert len(receiver.received) < 200
    second = dispatcher(db)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            with receiver.lock:
                if {r.headers["webhook-id"] for r in receiver.received} == ids:
                    break
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    got = {r.headers["webhook-id"] for r in receiver.received}
    assert got == ids
    assert all(verified(r, secret)["type"] == "webhook.test" for r in receiver.received)
    assert delivered(db) == [("delivered", 200)]


def test_two_dispatchers_never_send_one_delivery_twice_at_once(
    pool: ConnectionPool, db: str, receiver: Receiver
) -> None:
    for n in range(8):
        subscribe(pool, f"{receiver.url}?s={n}")
    receiver.delay_s = 0.005
    ids = burst(pool, 25)
    workers = [dispatcher(db), dispatcher(db)]
    try:
        receiver.wait_for(200, timeout=60)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
    assert receiver.overlaps == []
    pairs = [(r.headers["webhook-id"], r.headers["x-path"]) for r in receiver.received]
    assert len(pairs) == len(set(pairs)) == 200
    assert {i for i, _ in pairs} == ids
    assert delivered(db) == [("delivered", 200)]


def test_serve_runs_a_dispatcher_that_dies_with_it(db: str, receiver: Receiver) -> None:
    server = Server(db, free_port(), workers=1, env=ENV)
    server.start()
    assert server.process is not None
    try:
        hooks = [p for p, line in server.children() if "webhooks run" in line]
        assert len(hooks) == 1
        writers = [p for p, line in server.children() if "api.logwriter" in line]
        assert len(writers) == 1  # the decision-log writer: not a worker either
        # workers replaced (SIGHUP) exit through serve's own frames: they must not stop it
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        workers = {p for p, _ in server.children()} - set(hooks) - set(writers)
        while time.monotonic() < deadline and workers & {p for p, _ in server.children()}:
            time.sleep(0.2)
        assert not workers & {p for p, _ in server.children()}, "old workers still running"
        time.sleep(1)
        assert "webhooks run" in cmdline(hooks[0]), "a worker's exit stopped the dispatcher"
        assert "api.logwriter" in cmdline(writers[0]), "a worker's exit stopped the writer"
        assert call(server.port, "GET", "/readyz")[0] == 200
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "webhooks run" in cmdline(hooks[0]):
            time.sleep(0.1)
        assert "webhooks run" not in cmdline(hooks[0])
        while time.monotonic() < deadline and "api.logwriter" in cmdline(writers[0]):
            time.sleep(0.1)
        assert "api.logwriter" not in cmdline(writers[0])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)


def test_serve_without_webhooks_starts_no_dispatcher(db: str) -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [DEALDESK, "serve", "--port", str(port), "--workers", "1", "--no-webhooks"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(4)
        assert process.poll() is None
        assert not [p for p, line in children(process.pid) if "webhooks run" in line]
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
