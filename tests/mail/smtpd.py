"""A real SMTP server on 127.0.0.1 for the mail tests (aiosmtpd): scripted answers, every
accepted message kept and parsed."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.system.server import free_port

LINK = re.compile(r"https?://[^\s\"<>]+/console/act/[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class Mail:
    mail_from: str
    to: list[str]
    raw: bytes
    at: float

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype
        text: str = body.get_content().replace("\r\n", "\n")
        return text

    @property
    def links(self) -> list[str]:
        return sorted(set(LINK.findall(self.part("plain"))))


@dataclass
class Handler:
    """`data_answers`: answers to DATA used in turn (then 250); `refuse`: addresses whose
    RCPT is answered 550."""

    data_answers: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    received: list[Mail] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            answer = self.data_answers.pop(0) if self.data_answers else "250 OK"
            self.answered.append(answer)
            if answer.startswith("250"):
                self.received.append(
                    Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, time.time())
                )
        return answer

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            got = [m.message["Subject"] for m in self.received]
        raise AssertionError(f"got {len(got)} mails, wanted {count}: {got}")

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.received if address in m.to]


@contextmanager
def smtp_server(
    handler: Handler | None = None, port: int | None = None, **tls: Any
) -> Iterator[tuple[Handler, int]]:
    """Started on 127.0.0.1 (a free port unless given), stopped on exit. `tls`: aiosmtpd's
    `tls_context`/`require_starttls` or `ssl_context`, and `auth_*` options."""
    handler = handler or Handler()
    port = port or free_port()
    # A generous ready_timeout: start() proves the server answers (a TLS handshake for
    # smtps), which on a loaded two-core machine can take longer than aiosmtpd's default.
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=30, **tls)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
