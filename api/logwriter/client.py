"""The worker's side: send a preview to the writer and wait for its own row's verdict.

When no writer answers the socket (not started yet, or being restarted), the preview goes
to the database from this process instead (`PreviewLog`), so evaluations carry on. A writer
that dies after taking a row cannot say whether it committed: that request is refused with
503, never answered 2xx.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

from api.errors import Invalid, Unavailable
from api.logwriter.protocol import Verdict, frame
from api.storage.decisions import Preview, preview_row
from api.storage.preview_log import PreviewLog

RETRY_S = 0.5  # how soon to look for the writer again after it did not answer
MARGIN_S = 2.0  # beyond the writer's statement timeout, before a wait counts as lost


class SocketLog:
    """`PreviewLog.write` through the instance's writer process."""

    def __init__(self, path: Path, fallback: PreviewLog, *, statement_timeout_ms: int) -> None:
        self._path = str(path)
        self._fallback = fallback
        self._timeout_s = statement_timeout_ms / 1000 + MARGIN_S
        self._local = threading.local()  # one connection per thread (gthread workers)
        self._opened: list[socket.socket] = []  # every one, to close them all at the end
        self._lock = threading.Lock()
        self._retry_at = 0.0

    def write(self, preview: Preview) -> bool:
        """Commit one preview; False when its registry or policy generation was no longer
        current. Raises Unavailable (503) when the writer died holding it."""
        data = frame(preview.id, preview_row(preview))
        sock = self._send(data)
        if sock is None:
            return self._fallback.write(preview)
        try:
            verdict = sock.recv(1)
        except OSError:
            verdict = b""
        if not verdict:
            self._forget()
            raise Unavailable("The decision log writer stopped; retry shortly.")
        if verdict == Verdict.WRITTEN.value:
            return True
        if verdict == Verdict.STALE.value:
            return False
        if verdict == Verdict.UNSTORABLE.value:
            raise Invalid("A value in the request cannot be stored (out of range or malformed).")
        raise Unavailable("The database is unreachable; retry shortly.")

    def _send(self, data: bytes) -> socket.socket | None:
        """The socket that took the whole row, or None when no writer would."""
        for _ in range(2):  # a writer restarted since our last row: its successor, once
            sock = self._socket()
            if sock is None:
                return None
            try:
                sock.sendall(data)
                return sock
            except OSError:  # the writer went away before it had the whole row: not written
                self._forget()
        return None

    def _socket(self) -> socket.socket | None:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        if sock is not None:
            return sock
        if time.monotonic() < self._retry_at:
            return None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        _time_limit(sock, self._timeout_s)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            self._retry_at = time.monotonic() + RETRY_S
            return None
        self._local.sock = sock
        with self._lock:
            self._opened = [s for s in self._opened if s.fileno() != -1] + [sock]
        return sock

    def close(self) -> None:
        with self._lock:
            for sock in self._opened:
                sock.close()
            self._opened = []

    def _forget(self) -> None:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        if sock is not None:
            sock.close()
        self._local.sock = None


def _time_limit(sock: socket.socket, seconds: float) -> None:
    """Bound each send and receive on `sock` in the kernel (SO_SNDTIMEO, SO_RCVTIMEO): the
    socket stays blocking, where Python's `settimeout` would poll before every call. A call
    that runs out of time raises OSError (EAGAIN), as a lost writer does."""
    whole = int(seconds)
    limit = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))  # struct timeval
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
