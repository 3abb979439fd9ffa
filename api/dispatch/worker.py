"""The dispatcher loop: wake on NOTIFY (or every second), claim, send per subscription, settle.

Deliveries of one subscription are sent one after another in sequence order by one thread;
different subscriptions go out in parallel. The loop survives a database outage: it waits,
reconnects and carries on, and whatever it had claimed is retried when the lease lapses.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from api.config import ConfigError, Settings
from api.dispatch import checkpoints, records
from api.dispatch.client import KeptAlive, Outcome, post
from api.dispatch.egress import Egress
from api.dispatch.mail import MailChannel
from api.dispatch.schedule import NO_SUCCESS_DISABLES_AFTER_S, SCHEDULE, next_delay
from api.dispatch.sla import SlaJob
from api.errors import DealdeskError
from api.events.signing import headers
from api.metrics import record_delivery
from api.service.sealing import SecretBox, secret_box
from api.storage import audit, deliveries, outbox
from api.storage import webhooks as subscriptions
from api.storage.database import open_pool, transaction
from api.storage.deliveries import Claimed
from api.storage.outbox import CHANNEL

log = logging.getLogger("dealdesk.webhooks")
ACTOR = "system:dispatcher"
POLL_S = 1.0
CHECKPOINT_EVERY_S = 5.0
COALESCE_S = 0.01
SETTLE_BATCH = 25
SETTLE_EVERY_S = 0.1


@dataclass
class Dispatcher:
    settings: Settings
    url: str
    threads: int = 8
    batch: int = 64
    parent_pid: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _busy: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        s = self.settings
        self.egress = Egress.parse(s.webhook_allow_nets, s.webhook_allow_http)
        self.schedule = s.webhook_retry_schedule or SCHEDULE
        self.box: SecretBox = secret_box(s)
        self.mail = MailChannel.from_settings(s)  # the second channel, when SMTP is set
        outbox.configure_mail(s.mail_on)  # events this process emits are mailed too
        if s.webhook_lease_s <= s.webhook_timeout_s + 2:
            raise ConfigError(
                "DEALDESK_WEBHOOK_LEASE_S must exceed the send timeout "
                f"({s.webhook_timeout_s:g} s) by more than 2 s, or a slow send could go twice"
            )

    def run(self) -> None:
        """Until `stop` is set (or the parent process is gone)."""
        pool = open_pool(self.url, max_size=self.threads + 2, timeout_s=5.0, lazy_commit=True)
        listener = threading.Thread(target=self._listen, name="webhooks-listen", daemon=True)
        listener.start()
        executor = ThreadPoolExecutor(self.threads, thread_name_prefix="webhooks-send")
        records.start(self.settings, self.url, self.stop)  # partitions ahead, retention
        next_checkpoint = 0.0
        sla = SlaJob(self.settings)
        try:
            while not self._should_stop():
                try:
                    if time.monotonic() >= next_checkpoint:
                        checkpoints.maybe_seal(pool, self.settings.checkpoint_every)
                        next_checkpoint = time.monotonic() + CHECKPOINT_EVERY_S
                    if sla.due():
                        sla.run_guarded(pool)
                    full = self._claim_and_send(pool, executor)
                    if self.mail is not None:
                        full = self.mail.turn(pool, executor, self._wake.set) or full
                except (DealdeskError, psycopg.Error) as exc:
                    log.warning("webhooks: database unavailable (%s); retrying", exc)
                    self.stop.wait(1.0)
                    continue
                if not full:
                    self._wake.wait(min(POLL_S, sla.every_s))
                    self.stop.wait(COALESCE_S)  # one claim for a burst of notifications
                    self._wake.clear()
        finally:
            self.stop.set()
            executor.shutdown(wait=True)
            pool.close()

    def _should_stop(self) -> bool:
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            self.stop.set()
        return self.stop.is_set()

    def _claim_and_send(self, pool: ConnectionPool, executor: ThreadPoolExecutor) -> bool:
        with self._lock:
            free = self.threads - len(self._busy)
            busy = sorted(self._busy)
        if free <= 0:
            return False
        with transaction(pool) as conn:
            token, claimed = deliveries.claim(conn, self.batch, self.settings.webhook_lease_s, busy)
        groups: dict[int, list[Claimed]] = defaultdict(list)
        for row in claimed:
            groups[row.subscription_id].append(row)
        started = 0
        for sub_id, rows in groups.items():
            if started >= free:
                with transaction(pool) as conn:
                    deliveries.release(conn, [r.id for r in rows], token)
                continue
            with self._lock:
                self._busy.add(sub_id)
            started += 1
            future = executor.submit(self._send_group, pool, token, rows)
            future.add_done_callback(self._finished(sub_id))
        return len(claimed) >= self.batch

    def _finished(self, sub_id: int) -> Callable[[Future[None]], None]:
        def done(future: Future[None]) -> None:
            with self._lock:
                self._busy.discard(sub_id)
            if future.exception() is not None:
                log.warning("webhooks: send failed: %s", future.exception())
            self._wake.set()

        return done

    def _send_group(self, pool: ConnectionPool, token: uuid.UUID, rows: list[Claimed]) -> None:
        """In order; after a failure (or near the lease's end) the rest are let go.

        Outcomes are saved in batches (one commit per SETTLE_BATCH sends or SETTLE_EVERY_S),
        and at once after a failure: a crash before the save only means a resend."""
        margin = timedelta(seconds=self.settings.webhook_timeout_s + 2)
        done: list[tuple[Claimed, Outcome, datetime]] = []
        first_unsaved = 0.0
        kept = KeptAlive()
        try:
            for index, row in enumerate(rows):
                now = datetime.now(UTC)
                if self.stop.is_set() or row.lease_until - now < margin:
                    self._release(pool, rows[index:], token)
                    return
                outcome = self._send(row, now, kept)
                if not done:
                    first_unsaved = time.monotonic()
                done.append((row, outcome, datetime.now(UTC)))
                if not outcome.ok:
                    self._settle(pool, token, done)
                    done = []
                    self._release(pool, rows[index + 1 :], token)
                    return
                if len(done) >= SETTLE_BATCH or time.monotonic() - first_unsaved > SETTLE_EVERY_S:
                    self._settle(pool, token, done)
                    done = []
        finally:
            kept.close()
            if done:
                self._settle(pool, token, done)

    def _release(self, pool: ConnectionPool, rows: list[Claimed], token: uuid.UUID) -> None:
        if rows:
            with transaction(pool) as conn:
                deliveries.release(conn, [r.id for r in rows], token)

    def _send(self, row: Claimed, now: datetime, kept: KeptAlive) -> Outcome:
        keys = [self.box.open(row.secret_enc)]
        if row.old_secret_enc is not None and row.old_secret_until and row.old_secret_until > now:
            keys.append(self.box.open(row.old_secret_enc))
        body = row.body.encode()
        signed = headers(keys, row.event_id, int(time.time()), body)
        return post(
            row.url,
            signed,
            body,
            self.egress,
            connect_timeout_s=self.settings.webhook_connect_timeout_s,
            total_timeout_s=self.settings.webhook_timeout_s,
            kept=kept,
        )

    def _settle(
        self, pool: ConnectionPool, token: uuid.UUID, done: list[tuple[Claimed, Outcome, datetime]]
    ) -> None:
        """Save outcomes (each only while our lease holds) and the subscription's health;
        once committed, count them for /metrics."""
        with transaction(pool) as conn:
            settled = [self._fields(token, row, outcome, at) for row, outcome, at in done]
            with conn.pipeline():
                for fields in settled:
                    deliveries.settle(conn, fields)
            row, outcome, at = done[-1]
            if outcome.ok:
                deliveries.note_success(conn, row.subscription_id, at)
            elif outcome.status_code == 410:
                self._disable(conn, row.subscription_id, "the receiver answered 410 Gone", at)
            else:
                seen = deliveries.note_failure(conn, row.subscription_id, at)
                limit = timedelta(seconds=NO_SUCCESS_DISABLES_AFTER_S)
                if seen is not None and seen[1] and at - seen[0] >= limit:
                    self._disable(conn, row.subscription_id, "no successful delivery in 5 days", at)
        for (row, _, at), fields in zip(done, settled, strict=True):
            result = "retry" if fields["status"] == "pending" else str(fields["status"])
            record_delivery(result, max((at - row.next_attempt_at).total_seconds(), 0.0))

    def _fields(
        self, token: uuid.UUID, row: Claimed, outcome: Outcome, at: datetime
    ) -> dict[str, object]:
        delay = None
        if not (outcome.ok or outcome.blocked or outcome.status_code == 410):
            delay = next_delay(row.tries + 1, self.schedule, outcome.retry_after_s)
        status = "delivered" if outcome.ok else ("pending" if delay is not None else "failed")
        return {
            "id": row.id,
            "token": token,
            "status": status,
            "next_at": at + timedelta(seconds=delay) if delay is not None else None,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
            "at": at,
        }

    def _disable(self, conn: psycopg.Connection, sub_id: int, reason: str, at: datetime) -> None:
        if subscriptions.disable(conn, sub_id, reason, at):
            audit.append_event(
                conn,
                "webhook.subscription_disabled",
                ACTOR,
                f"webhook_subscription:{sub_id}",
                {"id": sub_id, "reason": reason},
            )

    def _listen(self) -> None:
        """Wake the loop when a change with deliveries commits (NOTIFY), reconnecting as needed."""
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._wake.set()
            except psycopg.Error:
                self.stop.wait(1.0)
