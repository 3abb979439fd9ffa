"""What recording the report history costs the write path: submit + approve with the
recording on and off (the history functions swapped for no-ops), alternating rounds in one
run, through the full Flask stack in-process on the `dealdesk_bench` database (so the
inserts land in tables that already hold the 1M-request history of bench/reports.py).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from api.config import Settings  # noqa: E402
from api.policy.loader import load_policy_dir  # noqa: E402
from api.service import history  # noqa: E402
from api.service.keys import issue_key  # noqa: E402
from api.storage.database import init_database, open_pool, transaction  # noqa: E402
from bench.overrides import scratch_url  # noqa: E402

PER_ROUND = int(os.environ.get("BENCH_WRITE_REQUESTS", "150"))
ROUNDS = int(os.environ.get("BENCH_WRITE_ROUNDS", "3"))
ORG = [("bw.sm", "sales_manager", None), ("bw.am", "account_manager", "bw.sm")]
RECORDERS = ("record_ask", "record_action", "record_withdrawal", "customer_no_flags")


def _off() -> dict[str, Any]:
    saved = {name: getattr(history, name) for name in RECORDERS}
    for name in RECORDERS:
        setattr(
            history,
            name,
            (lambda *a, **k: ()) if name == "customer_no_flags" else (lambda *a, **k: None),
        )
    return saved


def _round(client: Any, headers: dict[str, str]) -> list[float]:
    times = []
    for _ in range(PER_ROUND):
        body = {
            "deal": {
                "deal_id": f"BW-{uuid.uuid4().hex[:12]}",
                "owner_id": "bw.am",
                "currency": "USD",
                "list_amount": "250000.00",
                "discount_pct": "12",
                "close_date": "2026-12-20",
            },
            "requested_by": "bw.am",
        }
        started = time.perf_counter()
        response = client.post("/v1/approval-requests", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        rid = response.get_json()["id"]
        approve = {"approver_id": "bw.sm"}
        response = client.post(
            f"/v1/approval-requests/{rid}/approve", json=approve, headers=headers
        )
        assert response.status_code == 200, response.get_json()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    url = scratch_url()
    init_database(url)
    pool = open_pool(url, max_size=4)
    pool.wait()
    with transaction(pool) as conn:
        conn.execute("DELETE FROM api_keys WHERE name = 'bench-writes'")
        key, _ = issue_key(conn, "bench-writes", ["admin"], "bench")
    app = create_app(
        Settings(database_url=url), pool=pool, policy_set=load_policy_dir(ROOT / "policies")
    )
    logging.getLogger("dealdesk").setLevel(logging.WARNING)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    for person, tier, manager in ORG:
        body = {"name": person, "tier": tier, "manager_id": manager}
        assert client.put(f"/v1/people/{person}", json=body, headers=headers).status_code in (
            200,
            201,
        )
    _round(client, headers)  # warm-up
    on: list[float] = []
    off: list[float] = []
    for _ in range(ROUNDS):
        on += _round(client, headers)
        saved = _off()
        try:
            off += _round(client, headers)
        finally:
            for name, function in saved.items():
                setattr(history, name, function)
    pool.close()
    p50_on, p50_off = statistics.median(on), statistics.median(off)
    print(
        f"\nsubmit + approve, {ROUNDS} alternating rounds of {PER_ROUND} (in-process, full stack)"
    )
    print(f"recording on:  p50 {p50_on:.2f} ms, mean {statistics.mean(on):.2f} ms")
    print(f"recording off: p50 {p50_off:.2f} ms, mean {statistics.mean(off):.2f} ms")
    print(f"cost: {p50_on - p50_off:+.2f} ms per submit + approve ({p50_on / p50_off - 1:+.1%})")
    out = ROOT / "bench" / "results.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["report_writes"] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "per_round": PER_ROUND,
        "rounds": ROUNDS,
        "p50_ms_on": p50_on,
        "p50_ms_off": p50_off,
        "mean_ms_on": statistics.mean(on),
        "mean_ms_off": statistics.mean(off),
    }
    out.write_text(json.dumps(existing, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
