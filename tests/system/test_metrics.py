"""/metrics on a real `dealdesk serve` with four workers: scraped under load, the counts equal
what was sent, summed over every worker, and a killed worker's counts stay counted."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from api.service.keys import issue_key
from tests.http.conftest import ORG, deal
from tests.system.server import Server, call, scrape, serving, value

WORKERS = 4
THREADS = 8
PER_THREAD = 30
DISCOUNTS = ("5", "18", "45", "70")  # within, needs approval, beyond authority, beyond max


@pytest.fixture()
def metrics_dir(tmp_path: Path) -> Path:
    path = tmp_path / "prom"
    path.mkdir()
    (path / "counter_999999.db").write_bytes(b"left over from an earlier run")
    return path


@pytest.fixture()
def server(db: str, metrics_dir: Path) -> Iterator[Server]:
    yield from serving(db, workers=WORKERS, env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})


def test_scrape_under_load_from_four_workers_counts_what_was_sent(
    server: Server, db: str, metrics_dir: Path
) -> None:
    with psycopg.connect(db) as conn:
        admin, _ = issue_key(conn, "metrics-admin", ["admin"], "test")
        reader, _ = issue_key(conn, "prometheus", ["metrics"], "test")
        other, _ = issue_key(conn, "no-metrics", ["evaluate"], "test")
    assert not (metrics_dir / "counter_999999.db").exists(), "serve must empty the directory"
    for person_id, tier, manager in ORG:
        body = {"name": person_id, "tier": tier, "manager_id": manager}
        assert call(server.port, "PUT", f"/v1/people/{person_id}", body, admin)[0] == 201

    def burst(thread: int) -> list[tuple[int, str | None]]:
        seen = []
        for i in range(PER_THREAD):
            if i % 10 == 9:  # a 422: the wrong currency
                body = {"deal": deal(currency="EUR"), "requested_by": "am.jones"}
            else:
                d = deal(deal_id=f"M-{thread}-{i}", discount_pct=DISCOUNTS[i % len(DISCOUNTS)])
                body = {"deal": d, "requested_by": "am.jones"}
            status, answer = call(server.port, "POST", "/v1/evaluations", body, admin)
            seen.append((status, answer.get("outcome") if status == 200 else None))
        return seen

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(burst, t) for t in range(THREADS)]
        mid = [scrape(server.port, reader) for _ in range(3)]  # scrapes while the load runs
        results = [r for f in futures for r in f.result()]
    assert all(status == 200 for status, _, _ in mid)

    override = {
        "executive_id": "vp.garcia",
        "deal": deal(deal_id="M-OVR", discount_pct="18"),
        "terms": {"discount_pct": "35"},
        "reason_code": "competitive_displacement",
        "justification": "Competitor matched our price at quarter end.",
    }
    status, made = call(server.port, "POST", "/v1/overrides", override, admin)
    assert status == 201, made

    status, kind, samples = scrape(server.port, reader)
    assert (status, kind.split(";")[0]) == (200, "text/plain")
    statuses = Counter(s for s, _ in results)
    outcomes = Counter(o for _, o in results if o is not None)
    assert statuses[422] == THREADS * PER_THREAD // 10
    route = {"route": "/v1/evaluations", "method": "POST"}
    for code, count in statuses.items():
        assert value(samples, "dealdesk_http_requests_total", **route, status=str(code)) == count
    assert value(samples, "dealdesk_http_request_duration_seconds_count", **route) == len(results)
    for outcome, count in outcomes.items():
        got = value(samples, "dealdesk_decisions_total", outcome=outcome, source="evaluation")
        assert got == count, outcome
    assert sum(outcomes.values()) == statuses[200]
    people = {"route": "/v1/people/<string:person_id>", "method": "PUT", "status": "201"}
    assert value(samples, "dealdesk_http_requests_total", **people) == len(ORG)
    metrics_route = {"route": "/metrics", "method": "GET", "status": "200"}
    assert value(samples, "dealdesk_http_requests_total", **metrics_route) == len(mid)
    for category in made["categories"]:
        assert value(samples, "dealdesk_overrides_total", category=category) == 1
    assert sum(v for (n, _), v in samples.items() if n == "dealdesk_overrides_total") == len(
        made["categories"]
    )
    policy = made["policy"]
    info = {"name": policy["name"], "version": policy["version"], "sha256": policy["sha256"]}
    assert value(samples, "dealdesk_policy_info", **info) == 1
    assert value(samples, "dealdesk_pool_connections", pool="transactions", state="size") >= 1

    pids = {int(p.stem.split("_")[-1]) for p in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 2, f"the load reached {len(pids)} worker(s); the sum needs several"

    # a worker that dies keeps its counts; its live gauges go
    victim = max(pids)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while any(metrics_dir.glob(f"gauge_live*_{victim}.db")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not list(metrics_dir.glob(f"gauge_live*_{victim}.db"))
    _, _, after = scrape(server.port, reader)
    for code, count in statuses.items():
        assert value(after, "dealdesk_http_requests_total", **route, status=str(code)) == count
    assert value(after, "dealdesk_http_requests_total", **metrics_route) == len(mid) + 1

    refused = call(server.port, "GET", "/metrics", None, other)
    assert refused[0] == 403
    assert refused[1]["type"] == "urn:dealdesk:problem:missing-scope"
