"""DEALDESK_SMTP_URL, read: `smtp://`, `smtps://` (TLS from the start) or `smtp+starttls://`,
with an optional `user:password@` and port."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote, urlsplit


class Security(StrEnum):
    PLAIN = "smtp"
    TLS = "smtps"
    STARTTLS = "smtp+starttls"


DEFAULT_PORTS = {Security.PLAIN: 25, Security.TLS: 465, Security.STARTTLS: 587}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    security: Security
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        """For logs: never the password."""
        who = f"{self.user}@" if self.user else ""
        return f"{self.security.value}://{who}{self.host}:{self.port}"


def parse_target(url: str) -> SmtpTarget:
    """Raises ValueError naming what is wrong (never echoing the password)."""
    parts = urlsplit(url)
    try:
        security = Security(parts.scheme.lower())
    except ValueError:
        raise ValueError("the scheme must be smtp, smtps or smtp+starttls") from None
    if not parts.hostname:
        raise ValueError("a host is required, such as smtp://mail.example.com:25")
    try:
        port = parts.port or DEFAULT_PORTS[security]
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    if parts.path not in ("", "/") or parts.query:
        raise ValueError("nothing may follow the host and port")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not user:
        raise ValueError("a password needs a user name")
    return SmtpTarget(security, parts.hostname, port, user, password)
