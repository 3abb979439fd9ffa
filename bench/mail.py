"""What mail costs and how fast it arrives. Run alone (`python bench/mail.py`) or as part of
`make bench` (BENCH_SKIP_MAIL skips it).

1. Submit + approve through the full Flask stack in-process, on a real PostgreSQL, with SLA
   and mail on (the policy's `spec.sla`: each step is stamped assigned/due, its wait timed for
   the approval-times report and its `eligible` read; every person has an email, so each
   submit writes the approver's notification and action link and each approval the owner's)
   and with both off (the same policy without `spec.sla`, `outbox.configure_mail(False)`), in
   alternating rounds of the same run, on one database; the cost is the median of the rounds'
   throughput ratios (issue 25: at most 10%).
2. Commit to the mail accepted by the SMTP server: `approval_step.assigned` events committed
   at 50 a second (each in its own transaction) while a `dealdesk webhooks run` process mails
   them to aiosmtpd on 127.0.0.1; p50 / p99 / max.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from api.app import create_app  # noqa: E402
from api.config import Settings  # noqa: E402
from api.events.types import EventType  # noqa: E402
from api.policy.loader import load_policy_dir  # noqa: E402
from api.service.keys import issue_key  # noqa: E402
from api.storage import outbox  # noqa: E402
from api.storage.database import open_pool, transaction  # noqa: E402
from bench.common import CHAIN, alternate, await_all, dispatcher, free_port, lag_figures, paced  # noqa: E402

PAIRS = int(os.environ.get("BENCH_MAIL_PAIRS", "150"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RATE = int(os.environ.get("BENCH_MAIL_RATE", "50"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
KEY = "bench-mail-key-0123456789abcdef0123456789"
DEAL_ID = re.compile(rb"Subject: Approve (M-\d+):")
SLA_BLOCK = re.compile(r"^  sla:\n(?:    .*\n)+", re.M)
BENCH_SLA = """\
  sla:
    hours: 24
    period_end_hours: 4
    remind_after: 0.5
    escalate: manager
"""


def policy_dirs(root: Path) -> tuple[Path, Path]:
    """The shipped policy with `spec.sla` (BENCH_SLA) and without it: (on, off)."""
    text = (ROOT / "policies" / "deal-authority.yaml").read_text()
    bare = SLA_BLOCK.sub("", text)
    marker = "\n  rules:\n"
    assert marker in bare, "the shipped policy's spec has rules"
    timed = bare.replace(marker, f"\n{BENCH_SLA}  rules:\n", 1)
    made = []
    for name, body in (("on", timed), ("off", bare)):
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "deal-authority.yaml").write_text(body)
        made.append(directory)
    return made[0], made[1]


def scratch_database() -> str:
    from bench.run import scratch_database  # here: bench/run.py imports this module

    return scratch_database("dealdesk_bench_mail")


class Inbox:
    """aiosmtpd's handler: when each deal's mail was accepted."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.time()
        found = DEAL_ID.search(envelope.content)
        if found:
            with self.lock:
                self.accepted.setdefault(found.group(1).decode(), at)
        return "250 OK"


def mail_settings(url: str, smtp_port: int) -> Settings:
    return Settings(
        database_url=url,
        home=ROOT / ".dealdesk",
        today=date(2026, 6, 10),
        secret_key=KEY,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        mail_from="dealdesk <dealdesk@bench.test>",
        public_url="https://deals.bench.test",
    )


def mail_cost(url: str) -> dict[str, Any]:
    pool = open_pool(url, max_size=4)
    settings = mail_settings(url, free_port())
    with tempfile.TemporaryDirectory() as tmp:
        on_dir, off_dir = policy_dirs(Path(tmp))
        timed, bare = load_policy_dir(on_dir), load_policy_dir(off_dir)
    assert timed.active.sla is not None and bare.active.sla is None
    clients = {
        True: create_app(settings, pool=pool, policy_set=timed).test_client(),
        False: create_app(settings, pool=pool, policy_set=bare).test_client(),
    }
    with transaction(pool) as conn:
        key, _ = issue_key(conn, "bench", ["admin"], "bench")
    auth = {"Authorization": f"Bearer {key}"}
    for person, tier, manager in CHAIN:
        body = {"name": person, "tier": tier, "manager_id": manager, "email": f"{person}@b.test"}
        clients[False].put(f"/v1/people/{person}", json=body, headers=auth)
    counter = iter(range(10**9))

    def round_(on: bool) -> float:
        """Pairs per second with SLA and mail both on, or both off."""
        outbox.configure_mail(on)
        client = clients[on]
        started = time.perf_counter()
        for _ in range(PAIRS):
            deal = {
                "deal_id": f"B-{next(counter)}",
                "owner_id": "am.jones",
                "currency": "USD",
                "list_amount": "250000.00",
                "discount_pct": "12",
                "account": {"id": "ACME", "name": "Acme Corp"},
            }
            made = client.post(
                "/v1/approval-requests",
                json={"deal": deal, "requested_by": "am.jones"},
                headers=auth,
            )
            assert made.status_code == 201, made.json
            assert (made.json["steps"][0]["due_at"] is not None) is on
            done = client.post(
                f"/v1/approval-requests/{made.json['id']}/approve",
                json={"approver_id": "sm.lee"},
                headers=auth,
            )
            assert done.status_code == 200, done.json
        return PAIRS / (time.perf_counter() - started)

    round_(True)  # warm-up, both ways
    round_(False)
    without, with_, ratio = alternate(round_, ROUNDS)
    with transaction(pool) as conn:
        row = conn.execute("SELECT count(*) FROM notifications").fetchone()
        due = conn.execute("SELECT count(*) FROM approval_steps WHERE due_at IS NOT NULL")
        timed_steps = due.fetchone()
    outbox.configure_mail(False)
    pool.close()
    return {
        "pairs_per_s_sla_and_mail_off": round(without, 1),
        "pairs_per_s_sla_and_mail_on": round(with_, 1),
        "sla_and_mail_cost_pct": round((1 - ratio) * 100, 1),
        "notifications_written": row[0] if row else 0,
        "steps_with_due_at": timed_steps[0] if timed_steps else 0,
    }


def step_event(n: int) -> dict[str, Any]:
    """An ApprovalRequest's JSON as `approval_step.assigned` carries it."""
    return {
        "id": str(uuid.uuid4()),
        "deal_id": f"M-{n}",
        "state": "pending",
        "owner": {"id": "am.jones", "tier": "account_manager"},
        "requested_by": {"id": "am.jones", "tier": "account_manager"},
        "deal": {"discount_pct": "12", "account": {"id": "ACME", "name": "Acme Corp"}},
        "decision": {"findings": [], "flags": []},
        "steps": [{"tier": "sales_manager", "approver_id": "sm.lee", "state": "pending"}],
        "current_step": {"seq": 0, "tier": "sales_manager", "approver_id": "sm.lee"},
        "version": 1,
    }


def mail_latency(url: str) -> dict[str, Any]:
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings = mail_settings(url, smtp_port)
    pool = open_pool(url, max_size=8)
    outbox.configure_mail(True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEALDESK_SECRET_KEY": KEY,
        "DEALDESK_SMTP_URL": settings.smtp_url or "",
        "DEALDESK_MAIL_FROM": settings.mail_from or "",
        "DEALDESK_PUBLIC_URL": settings.public_url or "",
    }
    committed: dict[str, float] = {}

    def produce(n: int) -> None:
        with transaction(pool) as conn:
            outbox.emit(conn, EventType.STEP_ASSIGNED, n, datetime.now(UTC), step_event(n))
        committed[f"M-{n}"] = time.time()

    try:
        with dispatcher(env):
            elapsed = paced(produce, RATE, SECONDS, 4)
            achieved = len(committed) / elapsed
            await_all(lambda: len(inbox.accepted), len(committed))
    finally:
        controller.stop()
        outbox.configure_mail(False)
        pool.close()
    lags = sorted(
        (inbox.accepted[d] - committed[d]) * 1000 for d in committed if d in inbox.accepted
    )
    p50, p99, top = lag_figures(lags)
    return {
        "steps": len(committed),
        "steps_per_s_committed": round(achieved, 1),
        "mailed": len(lags),
        "commit_to_accepted_ms_p50": p50,
        "commit_to_accepted_ms_p99": p99,
        "commit_to_accepted_ms_max": top,
    }


def seed_people(url: str) -> None:
    """The people (with emails), and none of the first part's notifications left to send."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE action_links, notifications")
        for person, tier, manager in CHAIN:
            conn.execute(
                "INSERT INTO people (id, name, tier, manager_id, email) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING",
                (person, person, tier, manager, f"{person}@b.test"),
            )


def measure() -> dict[str, Any]:
    url = scratch_database()
    results = mail_cost(url)
    seed_people(url)
    results.update(mail_latency(url))
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
