"""One POST to a checked address: no redirects, 5 s to connect, 15 s in all, 64 KB read.

The connection goes to the IP address that was checked, not to a second DNS answer, while
the Host header and TLS SNI (and certificate check) keep the URL's host name.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from api.dispatch.egress import Blocked, Egress, IPAddress, resolve

READ_CAP = 64 * 1024
RETRY_AFTER_CAP_S = 3600.0


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after_s: float | None = None
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _open(ip: IPAddress, port: int, timeout: float | None) -> socket.socket:
    """TCP to the checked address; no Nagle delay (headers and body go in separate sends)."""
    sock = socket.create_connection((str(ip), port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = _open(self._ip, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self) -> None:
        raw = _open(self._ip, self.port, self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class KeptAlive:
    """Open connections of one sender thread, by URL origin, reused while the receiver keeps
    them open. Each was opened to an address checked at the time, so reuse needs no lookup."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str, int], http.client.HTTPConnection] = {}

    def close(self) -> None:
        for conn in self.open.values():
            conn.close()
        self.open.clear()


def post(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    egress: Egress,
    *,
    connect_timeout_s: float = 5.0,
    total_timeout_s: float = 15.0,
    kept: KeptAlive | None = None,
) -> Outcome:
    started = time.monotonic()
    deadline = started + total_timeout_s

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve(url, egress)
    except Blocked as exc:
        return Outcome(None, f"blocked: {exc}", took(), blocked=True)
    origin = (target.scheme, target.host, target.port)
    reused = kept.open.pop(origin, None) if kept is not None else None
    if reused is not None:
        try:
            status, retry_after, again = _exchange(reused, target.path, headers, body, deadline)
            _keep(kept, origin, reused, again)
            return Outcome(status, None, took(), retry_after)
        except (http.client.RemoteDisconnected, ConnectionError):
            reused.close()  # the receiver closed it while idle: a fresh connection follows
        except (OSError, http.client.HTTPException, ValueError) as exc:
            reused.close()
            return Outcome(None, _describe(exc), took())
    error = "no address answered"
    for ip in target.addresses:
        kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
        try:
            conn = kind(target.host, target.port, ip, min(connect_timeout_s, _left(deadline)))
        except TimeoutError as exc:
            return Outcome(None, _describe(exc), took())
        try:
            conn.connect()
        except OSError as exc:
            error = f"connect to {ip}: {_describe(exc)}"
            conn.close()
            continue
        try:
            status, retry_after, again = _exchange(conn, target.path, headers, body, deadline)
            _keep(kept, origin, conn, again)
            return Outcome(status, None, took(), retry_after)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()
            return Outcome(None, _describe(exc), took())
    return Outcome(None, error, took())


def _keep(
    kept: KeptAlive | None,
    origin: tuple[str, str, int],
    conn: http.client.HTTPConnection,
    reusable: bool,
) -> None:
    if kept is not None and reusable:
        kept.open[origin] = conn
    else:
        conn.close()


def _exchange(
    conn: http.client.HTTPConnection,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    deadline: float,
) -> tuple[int, float | None, bool]:
    """Send, then read the status and at most READ_CAP bytes, all before the deadline;
    also whether the connection may be used again (the whole answer was read, not closed)."""
    assert conn.sock is not None
    conn.sock.settimeout(_left(deadline))
    conn.request(
        "POST",
        path,
        body=body,
        headers={**headers, "Content-Type": "application/json", "User-Agent": "dealdesk/1"},
    )
    conn.sock.settimeout(_left(deadline))
    response = conn.getresponse()
    read = 0
    while read < READ_CAP:
        if conn.sock is not None:
            conn.sock.settimeout(_left(deadline))
        chunk = response.read(min(8192, READ_CAP - read))
        if not chunk:
            break
        read += len(chunk)
    reusable = response.isclosed() and not response.will_close
    return response.status, _retry_after(response.getheader("Retry-After")), reusable


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the 15 s limit passed")
    return left


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:300]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)
