"""Mail, the dispatcher's second channel: the same outbox, claim loop, lease and retry
schedule as webhooks. Each turn claims due notifications (when no batch is in flight), makes
the one-click links of the step mails, sends over one SMTP session, and settles outcomes
while the lease holds. A server that is down or answers 4xx only delays mail."""

from __future__ import annotations

import logging
import smtplib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import orjson
from psycopg_pool import ConnectionPool

from api.config import ConfigError, Settings
from api.dispatch import smtp
from api.dispatch.schedule import SCHEDULE, next_delay
from api.mail import message
from api.mail.target import SmtpTarget, parse_target
from api.service import action_links
from api.storage import notifications
from api.storage.database import transaction
from api.storage.notifications import Claimed

log = logging.getLogger("dealdesk.mail")
BATCH = 50


@dataclass
class MailChannel:
    settings: Settings
    target: SmtpTarget
    batch: int = BATCH
    _busy: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> MailChannel | None:
        if settings.smtp_url is None:
            return None
        if settings.webhook_lease_s <= settings.smtp_timeout_s + 2:
            raise ConfigError(
                "DEALDESK_WEBHOOK_LEASE_S must exceed DEALDESK_SMTP_TIMEOUT_S "
                f"({settings.smtp_timeout_s:g} s) by more than 2 s, or a slow send could go twice"
            )
        return cls(settings, parse_target(settings.smtp_url))

    @property
    def schedule(self) -> tuple[float, ...]:
        return self.settings.webhook_retry_schedule or SCHEDULE

    def turn(
        self, pool: ConnectionPool, executor: ThreadPoolExecutor, wake: Callable[[], None]
    ) -> bool:
        """Claim a batch unless one is in flight and hand it to a sending thread; True when
        the batch was full (more may be due at once)."""
        with self._lock:
            if self._busy:
                return False
            self._busy = True
        try:
            with transaction(pool) as conn:
                token, rows = notifications.claim(conn, self.batch, self.settings.webhook_lease_s)
        except BaseException:
            self._idle(None)
            raise
        if not rows:
            self._idle(None)
            return False
        future = executor.submit(self._send_batch, pool, token, rows)
        future.add_done_callback(lambda f: self._idle(f, wake))
        return len(rows) >= self.batch

    def _idle(self, future: Future[None] | None, wake: Callable[[], None] | None = None) -> None:
        with self._lock:
            self._busy = False
        if future is not None and future.exception() is not None:
            log.warning("mail: batch failed: %s", future.exception())
        if wake is not None:
            wake()

    def _send_batch(self, pool: ConnectionPool, token: uuid.UUID, rows: list[Claimed]) -> None:
        ready, outcomes = self._prepare(pool, rows)
        margin = timedelta(seconds=self.settings.smtp_timeout_s + 2)
        sender = parseaddr(self.settings.mail_from or "")[1]
        sending = [r for r in rows if r.id in ready]
        try:
            if sending:
                with smtp.connected(
                    self.target, self.settings.smtp_cafile, self.settings.smtp_timeout_s
                ) as client:
                    for row in sending:
                        if row.lease_until - datetime.now(UTC) < margin:
                            break  # the rest is let go below, and claimed again
                        sent = smtp.send(client, ready[row.id], sender, row.email)
                        outcomes.append((row, sent, datetime.now(UTC)))
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail: %s unreachable or refused the session: %s", self.target, exc)
            failed = smtp.Sent(False, False, f"{type(exc).__name__}: {exc}"[:300])
            done = {r.id for r, _, _ in outcomes}
            now = datetime.now(UTC)
            outcomes += [(r, failed, now) for r in sending if r.id not in done]
        self._settle(pool, token, rows, outcomes)

    def _prepare(
        self, pool: ConnectionPool, rows: list[Claimed]
    ) -> tuple[dict[int, EmailMessage], list[tuple[Claimed, smtp.Sent, datetime]]]:
        """Each row's message; one that cannot be built (a broken event, an address with a
        line break) fails for good at once rather than sinking its batch on every claim."""
        links = self._links(pool, rows)
        ready: dict[int, EmailMessage] = {}
        broken: list[tuple[Claimed, smtp.Sent, datetime]] = []
        for row in rows:
            try:
                if row.step_seq is not None and row.id not in links:
                    raise ValueError("the event names no request to link to")
                ready[row.id] = self._message(row, links.get(row.id))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                error = f"the message could not be built: {exc}"[:300]
                broken.append((row, smtp.Sent(False, True, error), datetime.now(UTC)))
        return ready, broken

    def _links(self, pool: ConnectionPool, rows: list[Claimed]) -> dict[int, str]:
        """Each step mail's own one-click link, saved (hashed) before the mail goes out."""
        made: dict[int, str] = {}
        acting = [(r, _request_id(r)) for r in rows if r.step_seq is not None]
        if not acting:
            return made
        base = self.settings.public_url or ""
        with transaction(pool) as conn:
            for row, request_id in acting:
                if request_id is None or row.step_seq is None:
                    continue
                token = action_links.issue(
                    conn, row.id, request_id, row.step_seq, row.person_id, row.event_at
                )
                made[row.id] = f"{base}/console/act/{token}"
        return made

    def _message(self, row: Claimed, link: str | None) -> EmailMessage:
        data = orjson.loads(row.body)["data"]
        view = message.compose(
            row.event_type,
            data,
            row.event_at,
            name=row.name or row.person_id,
            public_url=self.settings.public_url or "",
            link=link,
        )
        return message.build(
            view,
            self.settings.mail_from or "",
            row.email,
            datetime.now(UTC),
            ref=f"{row.event_id}.{row.person_id}",
        )

    def _settle(
        self,
        pool: ConnectionPool,
        token: uuid.UUID,
        rows: list[Claimed],
        outcomes: list[tuple[Claimed, smtp.Sent, datetime]],
    ) -> None:
        settled = {r.id for r, _, _ in outcomes}
        with transaction(pool) as conn:
            for row, sent, at in outcomes:
                notifications.settle(conn, self._fields(token, row, sent, at))
            rest = [r.id for r in rows if r.id not in settled]
            if rest:
                notifications.release(conn, rest, token)

    def _fields(
        self, token: uuid.UUID, row: Claimed, sent: smtp.Sent, at: datetime
    ) -> dict[str, Any]:
        delay = None if sent.ok or sent.permanent else next_delay(row.tries + 1, self.schedule)
        status = "sent" if sent.ok else ("pending" if delay is not None else "failed")
        return {
            "id": row.id,
            "token": token,
            "status": status,
            "next_at": at + timedelta(seconds=delay) if delay is not None else None,
            "error": sent.error,
            "at": at,
        }


def _request_id(row: Claimed) -> uuid.UUID | None:
    try:
        return uuid.UUID(orjson.loads(row.body)["data"]["id"])
    except (KeyError, TypeError, ValueError):
        return None
