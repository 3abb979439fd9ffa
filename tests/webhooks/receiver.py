"""A real HTTP receiver on 127.0.0.1 for webhook tests: scripted answers, every request kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """`answers` are (status, delay_s, extra headers) used in turn; then 200 at once."""

    answers: list[tuple[int, float, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    """Requests answered 2xx at once (what the sender saw succeed)."""
    requests: list[tuple[Received, int, float]] = field(default_factory=list)
    """Every request, with the status and delay it was answered with."""
    in_flight: dict[str, int] = field(default_factory=dict)
    overlaps: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            raise AssertionError(f"got {len(self.received)} deliveries, wanted {count}")

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, float, dict[str, str]]:
        msg_id = headers.get("webhook-id", "") + " " + headers.get("x-path", "")
        with self.lock:
            self.in_flight[msg_id] = self.in_flight.get(msg_id, 0) + 1
            if self.in_flight[msg_id] > 1:
                self.overlaps.append(msg_id)
            answer = self.answers.pop(0) if self.answers else (200, self.delay_s, {})
        return answer

    def done(self, headers: dict[str, str], body: bytes, status: int, delay: float) -> None:
        seen = Received(headers, body, time.time())
        with self.lock:
            self.in_flight[headers.get("webhook-id", "") + " " + headers.get("x-path", "")] -= 1
            self.requests.append((seen, status, delay))
            if status < 300 and delay < 0.5:
                self.received.append(seen)


def verified(received: Received, secret: str) -> dict[str, Any]:
    """Checked by the standardwebhooks package, independent of our signing code."""
    result: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return result


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["x-path"] = self.path
            status, delay, extra = receiver.handle(headers, body)
            try:
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass
            finally:
                receiver.done(headers, body, status, delay)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
