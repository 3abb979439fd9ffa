"""The writer process: accept workers on a Unix socket, commit their rows in groups.

One thread, one database connection. Rows that arrive while a commit is in flight wait in
the sockets and go together in the next one, so the group grows with the load and an idle
writer adds no delay. Each group is one statement in its own transaction, committed with
`synchronous_commit` as the server has it (on, by default): every verdict is sent after the
commit that holds the row. A writer killed between its commit and its verdicts leaves rows
whose requests were answered 503: a decision logged and not returned, never the reverse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from api.logwriter.protocol import Verdict, frames
from api.metrics import Metrics
from api.storage import commits
from api.storage.decisions import insert_rows_prepared, prepare_rows

log = logging.getLogger("dealdesk.logwriter")
MAX_GROUP = 512
RECV_BYTES = 1 << 16  # recv allocates what it is asked for: a row is a few kB
RECONNECT_S = 0.5


@dataclass
class _Peer:
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)


@dataclass
class _Row:
    peer: _Peer
    id: uuid.UUID
    row: bytes
    verdict: Verdict = Verdict.UNAVAILABLE


class Writer:
    def __init__(
        self,
        url: str,
        path: Path,
        *,
        check_policy: bool = True,
        statement_timeout_ms: int = 5000,
        commit_timeout_s: float = 10.0,
        parent_pid: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.url = url
        self.path = path
        self.check_policy = check_policy
        self.statement_timeout_ms = statement_timeout_ms
        self.commit_timeout_s = commit_timeout_s
        self.parent_pid = parent_pid
        self.metrics = metrics
        self.stopping = False
        self._conn: psycopg.Connection | None = None
        self._selector = selectors.DefaultSelector()

    def run(self) -> None:
        listener = self._listen()
        self._selector.register(listener, selectors.EVENT_READ, None)
        log.info("decision-log writer listening on %s", self.path)
        try:
            while not self.stopping:
                rows = self._receive(timeout=1.0)
                if rows:
                    self._commit(rows)
                elif self.parent_pid is not None and os.getppid() != self.parent_pid:
                    break  # the server is gone
        finally:
            for key in list(self._selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            self._selector.close()
            if self._conn is not None:
                self._conn.close()

    def stop(self) -> None:
        self.stopping = True

    def _listen(self) -> socket.socket:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.path.unlink(missing_ok=True)  # a dead writer's socket
        listener.bind(str(self.path))
        os.chmod(self.path, 0o600)  # only this user's processes may write decisions
        listener.listen(256)
        listener.setblocking(False)
        return listener

    def _receive(self, timeout: float) -> list[_Row]:
        """Every whole row the workers have sent so far (waiting up to `timeout` for one)."""
        rows: list[_Row] = []
        events = self._selector.select(timeout)
        while events:
            accepted = False
            for key, _ in events:
                if key.data is None:
                    accepted = self._accept(key.fileobj)  # type: ignore[arg-type]
                else:
                    self._read(key.data, rows)
            # a new connection's first row is already waiting: take it into this group
            events = self._selector.select(0) if accepted else []
        return rows

    def _accept(self, listener: socket.socket) -> bool:
        accepted = False
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return accepted
            sock.setblocking(True)
            self._selector.register(sock, selectors.EVENT_READ, _Peer(sock))
            accepted = True

    def _read(self, peer: _Peer, rows: list[_Row]) -> None:
        try:
            chunk = peer.sock.recv(RECV_BYTES)
            if not chunk:
                raise ConnectionResetError
            peer.buffer += chunk
            rows.extend(_Row(peer, i, r) for i, r in frames(peer.buffer))
        except (OSError, ValueError):  # a worker went away, or spoke nonsense
            self._drop(peer)

    def _drop(self, peer: _Peer) -> None:
        self._selector.unregister(peer.sock)
        peer.sock.close()

    def _commit(self, rows: list[_Row]) -> None:
        timings = []
        for start in range(0, len(rows), MAX_GROUP):
            began = time.perf_counter()
            self._write(rows[start : start + MAX_GROUP])
            timings.append((start, time.perf_counter() - began))
        for row in rows:
            with contextlib.suppress(OSError):  # a worker that died waiting answered nothing
                row.peer.sock.sendall(row.verdict.value)
        if self.metrics is not None:  # after the answers: nobody waits for the figures
            for start, seconds in timings:
                group = rows[start : start + MAX_GROUP]
                self.metrics.record_log_group([r.verdict.label for r in group], seconds)

    def _write(self, group: list[_Row]) -> None:
        try:
            conn = self._connection()  # autocommit: the one statement is the transaction
            commits.forget(conn)
            with commits.bounded(conn, self.commit_timeout_s):
                written = insert_rows_prepared(conn, [r.row for r in group])
            if commits.unconfirmed(conn):  # the standby did not confirm: not acknowledged
                raise psycopg.OperationalError("the synchronous standby did not confirm")
        except psycopg.DataError:
            if len(group) == 1:
                group[0].verdict = Verdict.UNSTORABLE
                return
            for row in group:  # one unstorable row must not fail its neighbours
                self._write([row])
            return
        except psycopg.Error as exc:
            log.error("decision log write failed: %s", exc)
            self._reset()
            for row in group:
                row.verdict = Verdict.UNAVAILABLE
            return
        for row in group:
            row.verdict = Verdict.WRITTEN if row.id in written else Verdict.STALE

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            timeout = self.statement_timeout_ms
            conn = psycopg.connect(
                self.url,
                connect_timeout=3,
                application_name="dealdesk-logwriter",
                autocommit=True,
                options=f"-c statement_timeout={timeout} -c lock_timeout={timeout}",
            )
            commits.note_unconfirmed_commits(conn)
            try:
                prepare_rows(conn, check_policy=self.check_policy)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _reset(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        time.sleep(RECONNECT_S)  # a database outage: do not spin
