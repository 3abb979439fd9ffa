"""What webhooks cost and how fast they arrive. Run alone (`python bench/webhooks.py`) or as
part of `make bench`.

1. Submit + approve through the full Flask stack in-process, on a real PostgreSQL, with the
   outbox write (one subscription matching every event, so each change also fans out) and
   without it (`api.storage.outbox.enabled = False`), in alternating rounds of the same run;
   the cost is the median of the rounds' throughput ratios.
2. Delivery latency: events committed at 200/s (each in its own transaction) while a
   `dealdesk webhooks run` process delivers them to a receiver on 127.0.0.1 that answers at
   once; commit-to-receipt p50 / p99 / max.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from api.config import Settings  # noqa: E402
from api.dispatch.egress import Egress  # noqa: E402
from api.events.types import EventType  # noqa: E402
from api.policy.loader import load_policy_dir  # noqa: E402
from api.service import webhooks  # noqa: E402
from api.service.keys import issue_key  # noqa: E402
from api.service.sealing import SecretBox  # noqa: E402
from api.storage import outbox  # noqa: E402
from api.storage.database import open_pool, transaction  # noqa: E402
from bench.common import CHAIN, alternate, await_all, dispatcher, lag_figures, paced  # noqa: E402

PAIRS = int(os.environ.get("BENCH_WEBHOOK_PAIRS", "150"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RATE = int(os.environ.get("BENCH_WEBHOOK_RATE", "200"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
KEY = "bench-webhook-key-0123456789abcdef012345"


def scratch_database() -> str:
    from bench.run import scratch_database  # here: bench/run.py imports this module

    return scratch_database("dealdesk_bench_webhooks")


def outbox_cost(url: str) -> dict[str, Any]:
    settings = Settings(
        database_url=url, home=ROOT / ".dealdesk", today=date(2026, 6, 10), secret_key=KEY
    )
    pool = open_pool(url, max_size=4)
    app = create_app(settings, pool=pool, policy_set=load_policy_dir(ROOT / "policies"))
    client = app.test_client()
    with transaction(pool) as conn:
        key, _ = issue_key(conn, "bench", ["admin"], "bench")
    auth = {"Authorization": f"Bearer {key}"}
    for person, tier, manager in CHAIN:
        client.put(
            f"/v1/people/{person}",
            json={"name": person, "tier": tier, "manager_id": manager},
            headers=auth,
        )
    with transaction(pool) as conn:
        ctx = webhooks.Context(datetime.now(UTC), "bench", SecretBox(KEY), Egress())
        webhooks.create(conn, ctx, "https://93.184.216.34/hooks", ["*"], None)
    counter = iter(range(10**9))

    def round_(with_outbox: bool) -> float:
        outbox.enabled = with_outbox
        started = time.perf_counter()
        for _ in range(PAIRS):
            body = {
                "deal": {
                    "deal_id": f"B-{next(counter)}",
                    "owner_id": "am.jones",
                    "currency": "USD",
                    "list_amount": "250000.00",
                    "discount_pct": "12",
                },
                "requested_by": "am.jones",
            }
            made = client.post("/v1/approval-requests", json=body, headers=auth)
            assert made.status_code == 201, made.json
            done = client.post(
                f"/v1/approval-requests/{made.json['id']}/approve",
                json={"approver_id": "sm.lee"},
                headers=auth,
            )
            assert done.status_code == 200, done.json
        return PAIRS / (time.perf_counter() - started)

    round_(True)  # warm-up
    without, with_, ratio = alternate(round_, ROUNDS)
    outbox.enabled = True
    pool.close()
    return {
        "pairs_per_s_without_outbox": round(without, 1),
        "pairs_per_s_with_outbox": round(with_, 1),
        "outbox_cost_pct": round((1 - ratio) * 100, 1),
    }


def delivery_latency(url: str) -> dict[str, Any]:
    received: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            at = time.time()
            self.send_response(204)
            self.end_headers()
            with lock:
                received.setdefault(self.headers["webhook-id"], at)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pool = open_pool(url, max_size=8)
    egress = Egress.parse(("127.0.0.0/8",), True)
    with transaction(pool) as conn:
        ctx = webhooks.Context(datetime.now(UTC), "bench", SecretBox(KEY), egress)
        webhooks.create(
            conn, ctx, f"http://127.0.0.1:{server.server_address[1]}/h", ["webhook.test"], None
        )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEALDESK_SECRET_KEY": KEY,
        "DEALDESK_WEBHOOK_ALLOW_NETS": "127.0.0.0/8",
        "DEALDESK_WEBHOOK_ALLOW_HTTP": "1",
    }
    committed: dict[str, float] = {}

    def produce(n: int) -> None:
        with transaction(pool) as conn:
            sent = outbox.emit(conn, EventType.WEBHOOK_TEST, n, datetime.now(UTC), {"n": n})
        committed[sent.id] = time.time()

    try:
        with dispatcher(env):
            elapsed = paced(produce, RATE, SECONDS, 8)
            achieved = len(committed) / elapsed
            await_all(lambda: len(received), len(committed))
    finally:
        server.shutdown()
        pool.close()
    lags = sorted((received[i] - committed[i]) * 1000 for i in committed if i in received)
    p50, p99, top = lag_figures(lags)
    return {
        "events": len(committed),
        "events_per_s_committed": round(achieved, 1),
        "delivered": len(lags),
        "latency_ms_p50": p50,
        "latency_ms_p99": p99,
        "latency_ms_max": top,
    }


def measure() -> dict[str, Any]:
    url = scratch_database()
    results = outbox_cost(url)
    results.update(delivery_latency(url))
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
