"""A primary and a synchronous streaming standby on loopback, from the embedded pgserver
bundle's own binaries (initdb, pg_basebackup -R -X stream, pg_ctl): the failover tests' and
bench/failover.py's database. As root, the servers run as pgserver's `pgserver` user."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pgserver

BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
USER = "pgserver" if os.geteuid() == 0 else None
PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 5
synchronous_standby_names = 'ANY 1 (s1)'
max_connections = 60
"""
STANDBY_CONF = """
port = {port}
cluster_name = 's1'
synchronous_standby_names = ''
"""


def as_root_like_pgserver() -> None:
    """What pgserver does before its first start as root: its user exists, and may run the
    bundle's binaries (tests/system runs before any embedded server was started, too)."""
    from pgserver.utils import (  # type: ignore[attr-defined]
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    assert USER is not None
    ensure_user_exists(USER)
    ensure_prefix_permissions(BIN)
    readable, runnable = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(BIN, readable | runnable)
    ensure_folder_permissions(BIN.parent / "lib", readable)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Pair:
    """`start()` builds both and waits until the standby streams as the synchronous one."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dealdesk-failover-"))
        self.primary, self.standby = self.root / "primary", self.root / "standby"
        self.primary_port, self.standby_port = free_port(), free_port()

    def url(self, dbname: str = "dealdesk") -> str:
        hosts = f"127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}"
        return f"postgresql://postgres@{hosts}/{dbname}?target_session_attrs=read-write"

    def node_url(self, port: int, dbname: str = "dealdesk") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    def start(self) -> None:
        if USER:
            as_root_like_pgserver()
            os.chown(self.root, pwd.getpwnam(USER).pw_uid, pwd.getpwnam(USER).pw_gid)
        self.root.chmod(0o755)
        self.run("initdb", "-D", str(self.primary), "--auth=trust", "-U", "postgres", "-E", "utf8")
        conf = PRIMARY_CONF.format(port=self.primary_port, sockets=self.root)
        self.append(self.primary / "postgresql.conf", conf)
        self.pg_ctl(self.primary, "-l", str(self.root / "primary.log"), "-w", "start")
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U",
                 "postgres", "-D", str(self.standby), "-R", "-X", "stream")  # fmt: skip
        self.append(self.standby / "postgresql.conf", STANDBY_CONF.format(port=self.standby_port))
        self.start_standby()
        with psycopg.connect(self.node_url(self.primary_port, "postgres"), autocommit=True) as c:
            c.execute("CREATE DATABASE dealdesk")

    def start_standby(self) -> None:
        self.pg_ctl(self.standby, "-l", str(self.root / "standby.log"), "-w", "start")
        deadline = time.monotonic() + 30
        with psycopg.connect(self.node_url(self.primary_port, "postgres"), autocommit=True) as c:
            while time.monotonic() < deadline:
                row = c.execute(
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = 's1'"
                    " AND state = 'streaming'"
                ).fetchone()
                if row and row[0] in ("sync", "quorum"):
                    return
                time.sleep(0.1)
        raise AssertionError("the standby did not become synchronous")

    def kill_primary(self) -> None:
        """As a lost host: no shutdown checkpoint, connections cut."""
        self.pg_ctl(self.primary, "-m", "immediate", "-w", "stop")

    def promote(self) -> None:
        self.pg_ctl(self.standby, "-w", "promote")

    def stop_standby(self) -> None:
        self.pg_ctl(self.standby, "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        for pgdata in (self.primary, self.standby):
            if (pgdata / "postmaster.pid").exists():
                with contextlib.suppress(subprocess.CalledProcessError):
                    self.pg_ctl(pgdata, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def pg_ctl(self, pgdata: Path, *args: str) -> None:
        self.run("pg_ctl", "-D", str(pgdata), *args)

    def run(self, tool: str, *args: str) -> None:
        # output to a file, not a pipe: a server started by pg_ctl keeps the pipe open
        with open(self.root / "tools.log", "a") as log:
            subprocess.run(  # noqa: S603
                [str(BIN / tool), *args],
                user=USER,
                check=True,
                stdout=log,
                stderr=log,
                timeout=60,
                cwd=self.root,
            )

    def append(self, path: Path, text: str) -> None:
        with open(path, "a") as conf:
            conf.write(text)
