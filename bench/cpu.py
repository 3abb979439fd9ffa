"""CPU accounting from /proc (Linux): how much CPU the server, PostgreSQL and the load tool
each spent on a load run, so that a figure per request can be printed beside throughput.

The server is every process in the `dealdesk serve` session (gunicorn master and workers, the
decision-log writer, the webhook dispatcher); PostgreSQL is the cluster's postmaster and its
children (`postmaster_pid` finds it); the load tool is the children this
process waited for meanwhile (wrk), or this process itself for the Python load generator.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

import psycopg

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[int, int, float] | None:
    """(parent pid, session id, user + system seconds) of a process; None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime stime ...
    return int(fields[1]), int(fields[3]), (int(fields[11]) + int(fields[12])) * TICK_S


def process_seconds(pid: int) -> float:
    """User + system CPU seconds one process has used so far (a PostgreSQL backend, say)."""
    seen = _stat(str(pid))
    if seen is None:
        raise ProcessLookupError(pid)
    return seen[2]


def postmaster_pid(conn: psycopg.Connection) -> int:
    """The pid of the cluster `conn` is connected to (first line of postmaster.pid)."""
    row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    assert row is not None
    return int((Path(row[0]) / "postmaster.pid").read_text().split()[0])


@dataclass(frozen=True)
class Sample:
    server_s: float
    postgres_s: float
    tool_s: float


def sample(server_session: int, postmaster: int) -> Sample:
    server = postgres = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        seen = _stat(pid)
        if seen is None:
            continue
        parent, session, seconds = seen
        if session == server_session:
            server += seconds
        elif parent == postmaster or int(pid) == postmaster:
            postgres += seconds
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    tool = children.ru_utime + children.ru_stime + me.ru_utime + me.ru_stime
    return Sample(server, postgres, tool)


def per_request(before: Sample, after: Sample, requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request on each side between two samples."""
    n = max(requests, 1)
    return {
        "server_ms": round((after.server_s - before.server_s) * 1000 / n, 3),
        "postgres_ms": round((after.postgres_s - before.postgres_s) * 1000 / n, 3),
        "tool_ms": round((after.tool_s - before.tool_s) * 1000 / n, 3),
    }
