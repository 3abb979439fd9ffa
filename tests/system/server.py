"""The real server as the system tests run it: `dealdesk serve` in its own process group."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT

DEALDESK = str(Path(sys.executable).parent / "dealdesk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`dealdesk serve` with its shipped defaults (gthread workers) unless told otherwise."""

    def __init__(
        self, db: str, port: int, *, workers: int = 2, env: dict[str, str] | None = None
    ) -> None:
        self.db, self.port, self.workers = db, port, workers
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.db,
            "DEALDESK_TODAY": "2026-06-10",
            **self.env,
        }
        self.process = subprocess.Popen(  # noqa: S603
            [DEALDESK, "serve", "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if call(self.port, "GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("server did not start")

    def kill(self, sig: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)

    def children(self) -> list[tuple[int, str]]:
        """(pid, command line) of the master's live children: workers, writer, dispatcher."""
        assert self.process is not None
        return children(self.process.pid)


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of a process's live children."""
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [(int(child), line) for child in found if (line := cmdline(int(child)))]


def serving(db: str, **options: Any) -> Iterator[Server]:
    """For a fixture: a started Server (the Server options), stopped afterwards if alive."""
    running = Server(db, free_port(), **options)
    running.start()
    yield running
    if running.process and running.process.poll() is None:
        running.kill(signal.SIGTERM)


def cmdline(pid: int) -> str:
    """A process's command line, spaces between the arguments; empty once it has gone (or for
    a zombie)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def scrape(
    port: int, key: str
) -> tuple[int, str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """GET /metrics: (status, content type, every sample by name and labels)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        text = response.read().decode()
        kind = response.headers["Content-Type"]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return response.status, kind, samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], series: str, **labels: str
) -> float:
    return samples.get((series, tuple(sorted(labels.items()))), 0.0)


def call(
    port: int, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
