"""A real failover: `dealdesk serve` on a primary with a synchronous standby, both hosts in
DATABASE_URL; under a stream of submissions and evaluations the primary is killed
(`pg_ctl stop -m immediate`) and the standby promoted. No 500, 503 with Retry-After in
between, the first 2xx on the new primary within 30 s, nothing answered 2xx missing, and the
decision-log writer and the webhook dispatcher carry on without a restart. Then the
standby stops confirming: a commit cancelled after DEALDESK_COMMIT_TIMEOUT_S is a 503."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.http.conftest import deal
from tests.system.failover_load import Answer, Load, missing_on, post, start_server
from tests.system.replication import Pair
from tests.system.server import call
from tests.webhooks.receiver import Receiver, running

PROBLEM = "application/problem+json"


@pytest.fixture()
def pair() -> Iterator[Pair]:
    built = Pair()
    try:
        built.start()
        yield built
    finally:
        built.cleanup()


def assert_unavailable(answer: Answer) -> None:
    assert (answer.status, answer.retry_after, answer.content_type) == (503, "5", PROBLEM)
    assert answer.body["type"] == "urn:dealdesk:problem:unavailable"
    assert answer.body["status"] == 503


def test_primary_lost_and_standby_promoted_under_load(pair: Pair) -> None:
    server, key = start_server(pair)
    try:
        with running(Receiver()) as receiver:
            status, _ = call(
                server.port, "POST", "/v1/webhook-subscriptions",
                {"url": receiver.url, "event_types": ["*"]}, key,
            )  # fmt: skip
            assert status == 201
            load = Load(server.port, key)
            load.start()
            time.sleep(3)
            killed = time.monotonic()
            pair.kill_primary()
            time.sleep(6)  # longer than the pool's 5 s wait: callers get 503, not a hang
            promoted = time.monotonic()
            pair.promote()
            deadline = promoted + 30
            while time.monotonic() < deadline and not [
                a for a in load.snapshot() if a.ended >= promoted and a.status in (200, 201)
            ]:
                time.sleep(0.1)
            time.sleep(3)  # acknowledged writes on the new primary, for the checks below
            load.finish()
            answers = load.snapshot()
            after = [a for a in answers if a.ended >= promoted and a.status in (200, 201)]
            # the dispatcher delivers an event of a request submitted after the promotion
            late = {a.body["id"] for a in after if a.kind == "submit"}
            wait_for_delivery(receiver, late)
        outage = [a for a in answers if a.ended >= killed and a.status not in (200, 201)]
        assert {a.status for a in answers} <= {200, 201, 503}, [
            (a.status, a.body) for a in answers if a.status not in (200, 201, 503)
        ]
        assert outage, "no call failed across the loss of the primary"
        for answer in outage:
            assert_unavailable(answer)
        first = min(a.ended for a in after)
        assert first - promoted < 30
        assert {a.kind for a in after} == {"submit", "evaluate"}  # the writer recovered too
        before = [a for a in answers if a.ended < killed and a.status in (200, 201)]
        assert len(before) > 10
        assert missing_on(pair.node_url(pair.standby_port), answers) == (set(), set())
        print(
            f"\nfailover: {len(answers)} calls, {len(outage)} answered 503, first 2xx "
            f"{first - promoted:.2f} s after promotion ({first - killed:.2f} s after the loss)"
        )
    finally:
        server.kill(15)


def wait_for_delivery(receiver: Receiver, request_ids: set[str], timeout: float = 30) -> None:
    assert request_ids, "no request was acknowledged after the promotion"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            bodies = [r.body for r in receiver.received]
        if any(rid.encode() in body for body in bodies for rid in request_ids):
            return
        time.sleep(0.2)
    raise AssertionError("no webhook for a request submitted after the failover")


def test_a_commit_the_standby_never_confirms_is_a_503(pair: Pair) -> None:
    server, key = start_server(pair, DEALDESK_COMMIT_TIMEOUT_S="2")
    primary = pair.node_url(pair.primary_port)
    try:
        body = {"deal": deal(deal_id="SYNC-1", discount_pct="18"), "requested_by": "am.jones"}
        assert post(server.port, "/v1/approval-requests", body, key).status == 201
        pair.stop_standby()
        body = {"deal": deal(deal_id="SYNC-2", discount_pct="18"), "requested_by": "am.jones"}
        answer = post(server.port, "/v1/approval-requests", body, key)
        assert_unavailable(answer)
        assert 2 <= answer.ended - answer.started < 6
        assert answer.body["detail"].startswith("The standby did not confirm the commit")
        evaluation = {"deal": deal(deal_id="SYNC-3"), "requested_by": "am.jones"}
        answer = post(server.port, "/v1/evaluations", evaluation, key)
        assert_unavailable(answer)  # the decision-log writer's commit, cancelled the same way
        with psycopg.connect(primary) as conn:
            rows = conn.execute("SELECT deal_id FROM approval_requests ORDER BY deal_id").fetchall()
        # the primary holds it (committed locally), but nobody was told so: not acknowledged
        assert rows == [("SYNC-1",), ("SYNC-2",)]
        pair.start_standby()
        body = {"deal": deal(deal_id="SYNC-4", discount_pct="18"), "requested_by": "am.jones"}
        answer = post(server.port, "/v1/approval-requests", body, key)
        assert answer.status == 201 and answer.body["deal"]["deal_id"] == "SYNC-4"
        answer = post(server.port, "/v1/evaluations", evaluation, key)
        assert answer.status == 200 and answer.body["outcome"] == "approved"
    finally:
        server.kill(15)
