"""`dealdesk webhooks run` as its own process mails too: killed with -9 and started again, it
loses nothing that was committed while it was down."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from flask.testing import FlaskClient

from tests.conftest import ROOT
from tests.mail.conftest import PUBLIC, SENDER, address, due, rows, submit
from tests.mail.smtpd import Handler
from tests.system.server import DEALDESK


def run_dispatcher(db: str, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "DEALDESK_SECRET_KEY": "system-test-secret-key-0123456789abcdef",
        "DEALDESK_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DEALDESK_MAIL_FROM": SENDER,
        "DEALDESK_PUBLIC_URL": PUBLIC,
        "DEALDESK_WEBHOOK_LEASE_S": "5",
        "DEALDESK_WEBHOOK_TIMEOUT_S": "1",
        "DEALDESK_SMTP_TIMEOUT_S": "1",
        "DEALDESK_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2",
    }
    return subprocess.Popen(  # noqa: S603
        [DEALDESK, "webhooks", "run", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.usefixtures("people")
def test_a_dispatcher_process_mails_and_a_restart_loses_nothing(
    client: FlaskClient, admin: dict[str, str], mailbox: Handler, db: str, smtp_port: int
) -> None:
    first = run_dispatcher(db, smtp_port)
    try:
        made = [submit(client, admin, deal_id=f"Q-{n}") for n in range(3)]
        mailbox.wait_for(3, timeout=30)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    made += [submit(client, admin, deal_id=f"Q-{n}") for n in range(3, 5)]
    time.sleep(0.5)
    assert len(mailbox.received) == 3
    assert rows(db, "SELECT count(*) FROM notifications WHERE status = 'pending'") == [(2,)]
    second = run_dispatcher(db, smtp_port)
    try:
        mails = mailbox.wait_for(5, timeout=30)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(10)
    subjects = sorted(m.message["Subject"] for m in mails)
    assert subjects == [
        f"Approve Q-{n}: 12% discount for Acme Corp{due(r)}" for n, r in enumerate(made)
    ]
    assert {tuple(m.to) for m in mails} == {(address("sm.lee"),)}
    assert rows(db, "SELECT status, count(*) FROM notifications GROUP BY status") == [("sent", 5)]
