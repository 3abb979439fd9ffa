"""The SLA scan in real dispatcher processes (`dealdesk webhooks run`), two at once against
one database, killed with SIGKILL between the overdue notice and the next escalation and
started again: every reminder, overdue notice and escalation happens exactly once per step
and stage, in the audit trail and at a real webhook receiver."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.policy.loader import load_policy_dir
from tests.conftest import ROOT
from tests.http.conftest import deal
from tests.sla_policy import policy_dir, sla_events
from tests.system.server import DEALDESK
from tests.webhooks.receiver import Receiver, running, verified

pytestmark = pytest.mark.usefixtures("org")
KEY = "sla-test-secret-key-0123456789abcdef"
HOURS = "0.002"  # 7.2 s: reminder at 3.6 s, overdue and first escalation at 7.2 s, next at 14.4
REQUESTS = 6
EXPECTED = [
    ("approval_step.reminder", None),
    ("approval_step.overdue", None),
    ("approval_step.escalated", "vp.garcia"),
    ("approval_step.escalated", "ceo.morgan"),
]


@pytest.fixture()
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(
        settings,
        policy_dir=policy_dir(tmp_path, HOURS),
        secret_key=KEY,
        webhook_allow_nets=("127.0.0.0/8",),
        webhook_allow_http=True,
    )


@pytest.fixture()
def app(settings: Settings, pool: ConnectionPool) -> Flask:
    application = create_app(settings, pool=pool, policy_set=load_policy_dir(settings.policy_dir))
    application.config["TESTING"] = True
    return application


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with running(Receiver()) as r:
        yield r


def dispatcher(db: str, settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        "DATABASE_URL": db,
        "DEALDESK_POLICY_DIR": str(settings.policy_dir),
        "DEALDESK_TODAY": "2026-06-10",
        "DEALDESK_SLA_SCAN_S": "0.2",
        "DEALDESK_SECRET_KEY": KEY,
        "DEALDESK_WEBHOOK_ALLOW_NETS": "127.0.0.0/8",
        "DEALDESK_WEBHOOK_ALLOW_HTTP": "1",
        "DEALDESK_WEBHOOK_LEASE_S": "5",
        "DEALDESK_WEBHOOK_TIMEOUT_S": "1",
    }
    return subprocess.Popen(  # noqa: S603
        [DEALDESK, "webhooks", "run", "--threads", "2"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stages(db: str, rids: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    return {rid: [(t, p.get("escalated_to")) for t, p in sla_events(db, rid)] for rid in rids}


def wait_until(db: str, rids: list[str], count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(len(found) >= count for found in stages(db, rids).values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"not every request reached {count} stages: {stages(db, rids)}")


def test_two_dispatchers_and_a_kill_fire_every_stage_exactly_once(
    client: FlaskClient,
    admin: dict[str, str],
    db: str,
    settings: Settings,
    receiver: Receiver,
) -> None:
    sub = client.post(
        "/v1/webhook-subscriptions", json={"url": receiver.url, "event_types": ["*"]}, headers=admin
    ).json
    workers = [dispatcher(db, settings), dispatcher(db, settings)]
    rids = []
    for n in range(REQUESTS):
        body = {"deal": deal(deal_id=f"Q-{n}", discount_pct="18"), "requested_by": "am.jones"}
        response = client.post("/v1/approval-requests", json=body, headers=admin)
        assert response.status_code == 201, response.json
        rids.append(response.json["id"])
    try:
        wait_until(db, rids, 3, timeout=30)  # reminder, overdue, first escalation
        assert all(found == EXPECTED[:3] for found in stages(db, rids).values())
    finally:
        for worker in workers:
            kill(worker)
    time.sleep(8)  # the second escalation falls due while no dispatcher runs
    assert all(found == EXPECTED[:3] for found in stages(db, rids).values())
    again = dispatcher(db, settings)
    try:
        wait_until(db, rids, 4, timeout=30)
        time.sleep(8)  # one more period: the chain has ended, nothing more fires
        got = receiver.wait_for(REQUESTS * 6, timeout=30)
    finally:
        kill(again)
    assert stages(db, rids) == {rid: EXPECTED for rid in rids}
    events = [verified(r, sub["secret"]) for r in got]
    assert len({e["id"] for e in events}) == len(events)
    kinds = Counter(e["type"] for e in events)
    assert kinds == {
        "approval_request.submitted": REQUESTS,
        "approval_step.assigned": REQUESTS,
        "approval_step.reminder": REQUESTS,
        "approval_step.overdue": REQUESTS,
        "approval_step.escalated": 2 * REQUESTS,
    }
    last = [e for e in events if e["type"] == "approval_step.escalated"][-1]["data"]
    assert [p["id"] for p in last["steps"][0]["eligible"]] == [
        "sd.patel",
        "vp.garcia",
        "ceo.morgan",
    ]
