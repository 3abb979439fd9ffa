"""The load the failover test and bench/failover.py run against `dealdesk serve`: threads
submitting approval requests and evaluating deals, every answer kept with its time."""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from api.service.keys import issue_key
from api.storage.database import init_database
from tests.http.conftest import ORG, deal
from tests.system.replication import Pair
from tests.system.server import Server, call, free_port

KINDS = ("submit", "evaluate")


@dataclass(frozen=True)
class Answer:
    kind: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all (connection refused, reset, timed out)
    retry_after: str | None
    content_type: str | None
    body: Any


def post(port: int, path: str, body: Any, key: str, timeout: float = 30.0) -> Answer:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            json.dumps(body),
            {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        response = conn.getresponse()
        raw = response.read()
        answer = Answer(
            "",
            started,
            time.monotonic(),
            response.status,
            response.getheader("Retry-After"),
            response.getheader("Content-Type"),
            json.loads(raw) if raw else None,
        )
    except (OSError, http.client.HTTPException) as exc:
        answer = Answer("", started, time.monotonic(), 0, None, None, repr(exc))
    finally:
        conn.close()
    return answer


SECRET = "failover-test-key-0123456789abcdef0123"


def start_server(pair: Pair, **env: str) -> tuple[Server, str]:
    """`dealdesk serve` (workers, decision-log writer, dispatcher) on both hosts of `pair`,
    with an admin key and the test org; returns the server and the key."""
    init_database(pair.url())
    with psycopg.connect(pair.url()) as conn:
        key, _ = issue_key(conn, "failover", ["admin"], "test")
    server = Server(
        pair.url(),
        free_port(),
        env={
            "DEALDESK_SECRET_KEY": SECRET,
            "DEALDESK_WEBHOOK_ALLOW_NETS": "127.0.0.0/8",
            "DEALDESK_WEBHOOK_ALLOW_HTTP": "1",
            **env,
        },
    )
    server.start()
    seed_people(server.port, key)
    return server, key


def seed_people(port: int, key: str) -> None:
    for person_id, tier, manager in ORG:
        body = {"name": person_id, "tier": tier, "manager_id": manager}
        status, _ = call(port, "PUT", f"/v1/people/{person_id}", body, key)
        assert status == 201


@dataclass
class Load:
    """`threads` per kind, each posting back to back until `stop` is set."""

    port: int
    key: str
    threads: int = 2
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for kind in KINDS:
            for n in range(self.threads):
                worker = threading.Thread(target=self._run, args=(kind, n), daemon=True)
                worker.start()
                self._workers.append(worker)

    def finish(self) -> None:
        self.stop.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def _run(self, kind: str, n: int) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            deal_id = f"F-{kind}-{n}-{i}"
            if kind == "submit":
                body = {
                    "deal": deal(deal_id=deal_id, discount_pct="18"),
                    "requested_by": "am.jones",
                }
                answer = post(self.port, "/v1/approval-requests", body, self.key)
            else:
                body = {"deal": deal(deal_id=deal_id), "requested_by": "am.jones"}
                answer = post(self.port, "/v1/evaluations", body, self.key)
            answer = dataclasses.replace(answer, kind=kind)
            with self._lock:
                self.answers.append(answer)
            if answer.status != 201 and answer.status != 200:
                time.sleep(0.05)  # an outage: do not spin

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)


def acknowledged_ids(answers: list[Answer]) -> tuple[set[str], set[str]]:
    """(approval request ids, decision ids) of every 2xx answer."""
    requests = {a.body["id"] for a in answers if a.kind == "submit" and a.status == 201}
    decisions = {a.body["decision_id"] for a in answers if a.kind == "evaluate" and a.status == 200}
    return requests, decisions


def missing_on(url: str, answers: list[Answer]) -> tuple[set[str], set[str]]:
    """The acknowledged ids the database at `url` does not hold."""
    requests, decisions = acknowledged_ids(answers)
    with psycopg.connect(url) as conn:
        have_requests = {
            str(r[0])
            for r in conn.execute(
                "SELECT id FROM approval_requests WHERE id::text = ANY(%s)", (list(requests),)
            )
        }
        have_decisions = {
            r[0]
            for r in conn.execute(
                "SELECT output->>'decision_id' FROM decisions"
                " WHERE output->>'decision_id' = ANY(%s)",
                (list(decisions),),
            )
        }
    return requests - have_requests, decisions - have_decisions
