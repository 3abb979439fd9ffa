"""Sending by `smtplib`, always over a verified TLS context when TLS is used (smtplib's own
default context verifies nothing), and every server answer turned into an outcome."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from api.mail.target import Security, SmtpTarget


@dataclass(frozen=True, slots=True)
class Sent:
    ok: bool
    permanent: bool = False
    """A 5xx refusal of this recipient or message: trying again will not help."""
    error: str | None = None


def tls_context(cafile: Path | None) -> ssl.SSLContext:
    """The system's trust store, plus `cafile` (a test's own CA) when given; verified always."""
    context = ssl.create_default_context()
    if cafile is not None:
        context.load_verify_locations(cafile=str(cafile))
    return context


@contextmanager
def connected(target: SmtpTarget, cafile: Path | None, timeout_s: float) -> Iterator[smtplib.SMTP]:
    """An SMTP session, secured as the URL says and logged in when it names a user."""
    client: smtplib.SMTP
    if target.security is Security.TLS:
        client = smtplib.SMTP_SSL(
            target.host, target.port, timeout=timeout_s, context=tls_context(cafile)
        )
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout_s)
    try:
        if target.security is Security.STARTTLS:
            client.ehlo()
            client.starttls(context=tls_context(cafile))
            client.ehlo()
        if target.user:
            client.login(target.user, target.password or "")
        yield client
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def send(client: smtplib.SMTP, message: EmailMessage, sender: str, to: str) -> Sent:
    """One message to one recipient. A refusal does not always raise: `send_message` returns
    the refused recipients when some were accepted, so that dict is checked too."""
    try:
        refused = client.send_message(message, from_addr=sender, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = exc.recipients.get(to, (0, b""))
        return _refused(code, text)
    except smtplib.SMTPDataError as exc:  # the message itself: 5xx is final, 4xx retried
        return _refused(exc.smtp_code, exc.smtp_error)
    except smtplib.SMTPResponseException as exc:  # e.g. the sender refused: our setup, retried
        return Sent(False, False, f"{exc.smtp_code} {_text(exc.smtp_error)}")
    if to in refused:
        return _refused(*refused[to])
    return Sent(True)


def _refused(code: int, text: bytes | str) -> Sent:
    return Sent(False, 500 <= code < 600, f"{code} {_text(text)}")


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text[:300]
