"""A CSV export that streams for longer than the worker timeout, read slowly by the client: it
completes under sync workers (DEALDESK_THREADS=1), where only the request itself can heartbeat,
because the stream does, and under the shipped gthread workers."""

from __future__ import annotations

import csv
import http.client
import io
import signal
import time
from collections.abc import Iterator

import psycopg
import pytest

from api.service.keys import issue_key
from tests.system.server import Server, free_port

ROWS = 8000
TIMEOUT_S = 2
JUSTIFICATION = "Matched a competitor's price at quarter end. " * 32  # about 1.5 KB a row
FILL = """
INSERT INTO overrides (id, deal_id, owner_id, owner_tier, executive_id, executive_tier, categories,
    terms_before, terms_after, excess, excess_value, currency, reason_code, justification,
    fiscal_year, fiscal_quarter, period_end, period, policy_name, policy_version, policy_sha256,
    review_status, created_at, created_on, event_hash)
SELECT gen_random_uuid(), 'L-' || g, 'am.jones', 'account_manager', 'vp.garcia', 'vp_sales',
    ARRAY['bypassed_owner'], '{}', '{}', '[]', 0, 'USD', 'competitive_displacement', %(text)s,
    2027, 1, false, '{}', 'deal-authority', 'test', 'test', 'pending',
    timestamptz '2026-03-01 00:00Z' + g * interval '1 second',
    date '2026-03-01', md5(g::text)
FROM generate_series(1, %(rows)s) g
"""


@pytest.fixture(params=["1", "8"], ids=["sync", "gthread"])
def served(db: str, request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    with psycopg.connect(db) as conn:
        conn.execute("SET session_replication_role = replica")  # rows only, no audit trail
        conn.execute(FILL, {"rows": ROWS, "text": JUSTIFICATION})
        key, _ = issue_key(conn, "export", ["admin"], "test")
    env = {"DEALDESK_WORKER_TIMEOUT": str(TIMEOUT_S), "DEALDESK_THREADS": request.param}
    server = Server(db, free_port(), workers=1, env=env)
    server.start()
    yield server.port, key
    server.kill(signal.SIGTERM)


def test_a_slowly_read_export_outlives_the_worker_timeout(served: tuple[int, str]) -> None:
    port, key = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "GET", "/v1/overrides", headers={"Authorization": f"Bearer {key}", "Accept": "text/csv"}
    )
    response = conn.getresponse()
    assert response.status == 200
    started, received = time.monotonic(), bytearray()
    while chunk := response.read(64 * 1024):  # about 2 MB/s: the worker waits on us
        received += chunk
        time.sleep(0.03)
    elapsed = time.monotonic() - started
    conn.close()
    rows = list(csv.DictReader(io.StringIO(received.decode())))
    assert len(rows) == ROWS
    assert rows[-1]["deal_id"] == f"L-{ROWS}"
    assert rows[-1]["justification"] == JUSTIFICATION
    assert elapsed > 2 * TIMEOUT_S  # the stream really outlived the worker timeout
