"""SCIM sync of an org: POST every user, then PATCH every manager, against the real server,
with evaluations interleaved that check the registry they see is consistent (DESIGN 13).

Target: 10,000 users (POST + PATCH, 20,000 requests) in under 60 s. Users are a 10-ary tree
(tier by depth); the PATCHes send the manager the way Microsoft Entra does (a bare-string
`Add` on the enterprise extension's manager). Alongside, one client evaluates deals owned
by users whose POST was already answered (BENCH_SCIM_EVAL_RATE a second, default 50): each
must be 200 with the tier the POST gave
(a registry seen at once, never a stale or missing person). At the end every person's
manager must be the one sent and every chain must reach the root without a cycle.

    .venv/bin/python bench/scim_sync.py          # BENCH_SCIM_USERS (10000), BENCH_SCIM_CLIENTS (4)
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from api.service.keys import issue_key  # noqa: E402
from bench import cpu, run  # noqa: E402

USERS = int(os.environ.get("BENCH_SCIM_USERS", "10000"))
CLIENTS = int(os.environ.get("BENCH_SCIM_CLIENTS", "4"))
EVAL_RATE = float(os.environ.get("BENCH_SCIM_EVAL_RATE", "50"))  # evaluations per second
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEALDESK = "urn:ietf:params:scim:schemas:extension:dealdesk:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TIERS = ["ceo", "vp_sales", "sales_director", "sales_manager", "account_manager"]
CHAINS = """
WITH RECURSIVE up AS (
    SELECT id, manager_id, 0 AS depth FROM people
    UNION ALL SELECT up.id, p.manager_id, up.depth + 1 FROM up JOIN people p ON p.id = up.manager_id
    WHERE up.depth < 64
)
SELECT count(DISTINCT id) FILTER (WHERE manager_id IS NULL), max(depth),
       (SELECT count(*) FROM people WHERE manager_id IS NULL)
FROM up
"""


def org(n: int) -> list[tuple[str, str, str | None]]:
    """(id, tier, manager id): user i reports to user (i - 1) // 10."""
    people = []
    for i in range(n):
        depth, j = 0, i
        while j > 0:
            j, depth = (j - 1) // 10, depth + 1
        manager = None if i == 0 else f"u{(i - 1) // 10:05d}@example.com"
        people.append((f"u{i:05d}@example.com", TIERS[min(depth, len(TIERS) - 1)], manager))
    return people


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}

    def send(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.conn.request(method, path, body=json.dumps(body), headers=self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None


def user_body(user_id: str, tier: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", DEALDESK],
        "userName": user_id,
        "externalId": f"hr-{user_id[1:6]}",
        "name": {"formatted": f"User {user_id[1:6]}"},
        "emails": [{"value": user_id, "type": "work", "primary": True}],
        "active": True,
        DEALDESK: {"tier": tier},
    }


def phase(port: int, key: str, jobs: list[Any], send: Any, done: dict[str, str]) -> float:
    """Run `send(client, job)` over CLIENTS threads; returns the elapsed seconds."""
    queue = list(reversed(jobs))
    lock = threading.Lock()
    failures: list[str] = []

    def work() -> None:
        client = Client(port, key)
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            failure = send(client, job, done)
            if failure:
                failures.append(failure)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return time.perf_counter() - started


def post(client: Client, job: tuple[str, str, str | None], done: dict[str, str]) -> str | None:
    user_id, tier, _ = job
    status, body = client.send("POST", "/scim/v2/Users", user_body(user_id, tier))
    if status != 201 or body["id"] != user_id:
        return f"POST {user_id}: {status} {body}"
    done[user_id] = tier  # acknowledged: every evaluation from now on must find them
    return None


def patch(client: Client, job: tuple[str, str, str | None], done: dict[str, str]) -> str | None:
    user_id, _, manager = job
    operation = {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager}
    status, body = client.send(
        "PATCH", f"/scim/v2/Users/{user_id}", {"schemas": [PATCH_OP], "Operations": [operation]}
    )
    if status != 200 or body[ENTERPRISE]["manager"]["value"] != manager:
        return f"PATCH {user_id}: {status} {body}"
    return None


def evaluator(port: int, key: str, seen: dict[str, str], stop: threading.Event) -> dict[str, Any]:
    """Evaluate deals of acknowledged users until stopped; count what was inconsistent."""
    client = Client(port, key)
    client.headers["Content-Type"] = "application/json"
    figures: dict[str, Any] = {"evaluations": 0, "inconsistent": 0, "first_bad": None}
    started = time.perf_counter()
    while not stop.is_set():
        due = started + figures["evaluations"] / EVAL_RATE
        if not seen or time.perf_counter() < due:
            time.sleep(0.005)
            continue
        owner = random.choice(list(seen))
        deal = run.deal(deal_id=f"Q-{figures['evaluations']}")["deal"] | {"owner_id": owner}
        status, body = client.send("POST", "/v1/evaluations", {"deal": deal, "requested_by": owner})
        figures["evaluations"] += 1
        if status != 200 or body["owner"] != {"id": owner, "tier": seen[owner]}:
            figures["inconsistent"] += 1
            figures["first_bad"] = figures["first_bad"] or (owner, status, body)
    return figures


def main() -> int:
    url = run.scratch_database("dealdesk_bench_scim")
    port = run.free_port()
    server = run.start_server(url, port)
    try:
        return measure(url, port, server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def measure(url: str, port: int, session: int) -> int:
    with psycopg.connect(url) as conn, transaction_of(conn):
        scim_key, _ = issue_key(conn, "okta", ["scim"], "bench")
        eval_key, _ = issue_key(conn, "cpq", ["evaluate"], "bench")
        postmaster = cpu.postmaster_pid(conn)
    people = org(USERS)
    seen: dict[str, str] = {}
    stop = threading.Event()
    figures: dict[str, Any] = {}
    checker = threading.Thread(target=lambda: figures.update(evaluator(port, eval_key, seen, stop)))
    checker.start()
    start = cpu.sample(session, postmaster)
    try:
        posts = phase(port, scim_key, people, post, seen)
        patches = phase(port, scim_key, [p for p in people if p[2]], patch, seen)
    finally:
        stop.set()
        checker.join()
    spent = cpu.per_request(start, cpu.sample(session, postmaster), 2 * USERS - 1)
    busy_s = sum(spent.values()) * (2 * USERS - 1) / 1000
    with psycopg.connect(url) as conn:
        reach, depth, roots = conn.execute(CHAINS).fetchone() or (None, None, None)
        rows = conn.execute("SELECT id, manager_id, active FROM people").fetchall()
    wrong = [r for r in rows if (r[0], r[1]) not in {(p[0], p[2]) for p in people} or not r[2]]
    total = posts + patches
    print(f"SCIM sync of {USERS:,} users over {CLIENTS} connections (real server, loopback)")
    print(f"  POST  {USERS:>6,}: {posts:6.1f} s  ({USERS / posts:,.0f}/s)")
    print(f"  PATCH {USERS - 1:>6,}: {patches:6.1f} s  ({(USERS - 1) / patches:,.0f}/s)")
    print(f"  total          {total:6.1f} s  (target < 60 s: {'met' if total < 60 else 'MISSED'})")
    print(
        f"  CPU per SCIM request (evaluations included): server {spent['server_ms']} ms, "
        f"PostgreSQL {spent['postgres_ms']} ms, bench client {spent['tool_ms']} ms; "
        f"{busy_s:.1f} CPU-s in all, {busy_s / 2:.1f} s on 2 idle cores; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"  interleaved evaluations: {figures['evaluations']:,}, "
        f"inconsistent: {figures['inconsistent']} {figures['first_bad'] or ''}"
    )
    print(
        f"  registry after: {len(rows):,} people, wrong manager or inactive: {len(wrong)}, "
        f"chains reaching the root: {reach:,}, roots: {roots}, deepest chain: {depth}"
    )
    record(
        {
            "measured_at": datetime.now(UTC).isoformat(),
            "users": USERS,
            "clients": CLIENTS,
            "post_s": round(posts, 1),
            "patch_s": round(patches, 1),
            "total_s": round(total, 1),
            "cpu_ms_per_request": spent,
            "evaluations": figures["evaluations"],
            "inconsistent": figures["inconsistent"],
            "wrong_after": len(wrong),
            "load_average": round(os.getloadavg()[0], 1),
        }
    )
    consistent = figures["inconsistent"] == 0 and not wrong and roots == 1 and reach == USERS
    return 0 if consistent and (total < 60 or USERS < 10000) else 1


def record(figures: dict[str, Any]) -> None:
    out = ROOT / "bench" / "results.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["scim_sync"] = figures
    out.write_text(json.dumps(existing, indent=2) + "\n")


def transaction_of(conn: psycopg.Connection) -> Any:
    return conn.transaction()


if __name__ == "__main__":
    raise SystemExit(main())
