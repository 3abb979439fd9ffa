"""kill -9 the server (master and workers) in the middle of a burst of approvals and overrides,
restart it, and check: every 2xx is present, nothing is half-applied, the chain verifies."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from api.service.keys import issue_key
from tests.http.conftest import ORG, deal
from tests.system.server import Server, call, serving

CUT_OFF = (OSError, http.client.HTTPException)  # a response the kill cut off: not acknowledged


@pytest.fixture()
def server(db: str) -> Iterator[Server]:
    yield from serving(db)


def test_kill_9_mid_burst_loses_nothing_acknowledged(server: Server, db: str) -> None:
    with psycopg.connect(db) as conn:
        key, _ = issue_key(conn, "crash", ["admin"], "test")
    for person_id, tier, manager in ORG:
        assert (
            call(
                server.port,
                "PUT",
                f"/v1/people/{person_id}",
                {"name": person_id, "tier": tier, "manager_id": manager},
                key,
            )[0]
            == 201
        )
    requests = []
    for i in range(60):
        status, body = call(
            server.port,
            "POST",
            "/v1/approval-requests",
            {"deal": deal(deal_id=f"C-{i}", discount_pct="18"), "requested_by": "am.jones"},
            key,
        )
        assert status == 201
        requests.append(body["id"])

    acknowledged: list[tuple[str, str]] = []
    lock = threading.Lock()

    def approve(ids: list[str]) -> None:
        for rid in ids:
            try:
                status, _ = call(
                    server.port,
                    "POST",
                    f"/v1/approval-requests/{rid}/approve",
                    {"approver_id": "sd.patel"},
                    key,
                )
            except CUT_OFF:
                return
            if status == 200:
                with lock:
                    acknowledged.append(("approval", rid))

    def override(prefix: str) -> None:
        for i in range(200):
            body = {
                "executive_id": "vp.garcia",
                "deal": deal(deal_id=f"{prefix}-{i}"),
                "terms": {"discount_pct": "35"},
                "reason_code": "other",
                "justification": "Crash test: competitor matched our price.",
            }
            try:
                status, created = call(server.port, "POST", "/v1/overrides", body, key)
            except CUT_OFF:
                return
            if status == 201:
                with lock:
                    acknowledged.append(("override", created["id"]))

    workers = [threading.Thread(target=approve, args=(requests[i::3],)) for i in range(3)]
    workers += [threading.Thread(target=override, args=(f"O{i}",)) for i in range(2)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill(signal.SIGKILL)
    for worker in workers:
        worker.join(timeout=30)
    assert len(acknowledged) >= 40

    server.start()
    for kind, ident in acknowledged:
        path = f"/v1/approval-requests/{ident}" if kind == "approval" else f"/v1/overrides/{ident}"
        status, body = call(server.port, "GET", path, key=key)
        assert status == 200, (kind, ident)
        if kind == "approval":
            assert body["state"] == "approved" and body["steps"][0]["acted_by"] == "sd.patel"

    with psycopg.connect(db) as conn:
        half = conn.execute("""
            SELECT r.id FROM approval_requests r
            WHERE (r.state = 'approved') <> EXISTS (
                SELECT 1 FROM audit_events e
                WHERE e.type = 'request.approve' AND e.subject = 'request:' || r.id)""").fetchall()
        orphans = conn.execute("""
            SELECT o.id FROM overrides o
            WHERE NOT EXISTS (
                SELECT 1 FROM audit_events e WHERE e.hash = o.event_hash)""").fetchall()
        events = conn.execute(
            "SELECT count(*) FROM audit_events WHERE type = 'override.created'"
        ).fetchone()
        rows = conn.execute("SELECT count(*) FROM overrides").fetchone()
    assert (half, orphans) == ([], [])
    assert events == rows
    verdict = call(server.port, "GET", "/v1/audit/verify", key=key)[1]
    assert verdict["ok"] is True and verdict["first_bad_event_id"] is None


def test_sigterm_finishes_in_flight_requests(server: Server, db: str) -> None:
    """An approval held in flight (by a row lock the test owns) completes after SIGTERM."""
    with psycopg.connect(db) as conn:
        key, _ = issue_key(conn, "graceful", ["admin"], "test")
    for person_id, tier, manager in ORG:
        call(
            server.port,
            "PUT",
            f"/v1/people/{person_id}",
            {"name": person_id, "tier": tier, "manager_id": manager},
            key,
        )
    status, body = call(
        server.port,
        "POST",
        "/v1/approval-requests",
        {"deal": deal(deal_id="G-1", discount_pct="18"), "requested_by": "am.jones"},
        key,
    )
    assert status == 201
    outcome: list[tuple[int, Any]] = []
    with psycopg.connect(db) as holder:
        holder.execute("SELECT 1 FROM approval_requests WHERE id = %s FOR UPDATE", (body["id"],))
        approver = threading.Thread(
            target=lambda: outcome.append(
                call(
                    server.port,
                    "POST",
                    f"/v1/approval-requests/{body['id']}/approve",
                    {"approver_id": "sd.patel"},
                    key,
                )
            )
        )
        approver.start()
        time.sleep(1.0)  # accepted by a worker and waiting on the lock
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
    approver.join(timeout=30)
    assert server.process.wait(timeout=30) == 0
    assert [(s, b["state"]) for s, b in outcome] == [(200, "approved")]
    with psycopg.connect(db) as conn:
        state = conn.execute(
            "SELECT state FROM approval_requests WHERE id = %s", (body["id"],)
        ).fetchone()
    assert state == ("approved",)
