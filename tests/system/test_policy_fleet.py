"""One policy set across a fleet: real `dealdesk serve` processes (4 workers each) on one real
PostgreSQL. Publish through one and hammer both; refuse a bad file; follow the database with
an empty directory; start instances with different directories; SIGHUP."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.service.keys import issue_key
from tests.conftest import POLICIES, ROOT
from tests.http.conftest import ORG, deal
from tests.system.server import DEALDESK, Server, call, free_port

SHIPPED_TEXT = (POLICIES / "deal-authority.yaml").read_text()
WORKERS = 4


def policy_dir(root: Path, version: str, am_ceiling: int = 10) -> Path:
    directory = root / version
    directory.mkdir()
    write_policy(directory, version, am_ceiling)
    return directory


def write_policy(directory: Path, version: str, am_ceiling: int) -> None:
    text = SHIPPED_TEXT.replace('version: "2026.11.0"', f'version: "{version}"').replace(
        "account_manager: 10, sales_manager: 15",
        f"account_manager: {am_ceiling}, sales_manager: 15",
    )
    (directory / "deal-authority.yaml").write_text(text)


class Fleet:
    """Servers on one database, stopped at the end of the test."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.servers: list[Server] = []
        self.key = ""

    def start(self, directory: Path, **env: str) -> Server:
        server = Server(
            self.db,
            free_port(),
            workers=WORKERS,
            env={"DEALDESK_POLICY_DIR": str(directory), **env},
        )
        server.start()
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            if server.process and server.process.poll() is None:
                server.kill(signal.SIGTERM)

    def setup_org(self, server: Server) -> None:
        with psycopg.connect(self.db) as conn:
            self.key, _ = issue_key(conn, "fleet", ["admin"], "test")
        for person_id, tier, manager in ORG:
            body = {"name": person_id, "tier": tier, "manager_id": manager}
            assert call(server.port, "PUT", f"/v1/people/{person_id}", body, self.key)[0] == 201

    def evaluate(self, server: Server, discount: str = "8") -> tuple[str, str]:
        body = {"deal": deal(discount_pct=discount), "requested_by": "am.jones"}
        status, decision = call(server.port, "POST", "/v1/evaluations", body, self.key)
        assert status == 200, decision
        return decision["policy"]["version"], decision["outcome"]

    def policies(self, server: Server) -> Any:
        status, listed = call(server.port, "GET", "/v1/policies", key=self.key)
        assert status == 200, listed
        return listed


@pytest.fixture()
def fleet(db: str) -> Iterator[Fleet]:
    running = Fleet(db)
    yield running
    running.stop()


def wait_until_ready(server: Server, generation: int, seconds: float = 90) -> bool:
    """Poll /readyz until it reports `generation` (new workers may take a while to boot on a
    busy machine, and requests queue meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if call(server.port, "GET", "/readyz") == (
                200,
                {"status": "ready", "generation": generation},
            ):
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def published(db: str) -> list[tuple[int, list[str]]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT payload FROM audit_events WHERE type = 'policy.published' ORDER BY id"
        ).fetchall()
    return [(p["generation"], [x["version"] for x in p["policies"]]) for (p,) in rows]


def test_a_publish_through_one_instance_is_what_both_decide_under(
    fleet: Fleet, db: str, tmp_path: Path
) -> None:
    mine = policy_dir(tmp_path, "2026.11.0")  # the shipped bytes
    a = fleet.start(mine)
    b = fleet.start(POLICIES)  # the same bytes: nothing new is published
    fleet.setup_org(a)
    assert published(db) == [(1, ["2026.11.0"])]
    for server in (a, b) * 4:
        assert fleet.evaluate(server) == ("2026.11.0", "approved")

    write_policy(mine, "2026.12.0", am_ceiling=5)
    status, reloaded = call(a.port, "POST", "/v1/policies/reload", key=fleet.key)
    assert (status, reloaded["generation"]) == (200, 2)
    seen = [fleet.evaluate(server) for _ in range(100) for server in (a, b)]
    assert seen == [("2026.12.0", "needs_approval")] * 200
    assert fleet.policies(a) == fleet.policies(b) == reloaded
    for server in (a, b):
        assert call(server.port, "GET", "/readyz") == (200, {"status": "ready", "generation": 2})

    (mine / "deal-authority.yaml").write_text("apiVersion: dealdesk/v1\nkind: [broken\n")
    status, refused = call(a.port, "POST", "/v1/policies/reload", key=fleet.key)
    assert (status, refused["type"]) == (422, "urn:dealdesk:problem:invalid-policy")
    assert list(refused["errors"]) == [f"{mine}/deal-authority.yaml:"]
    seen = [fleet.evaluate(server) for _ in range(20) for server in (a, b)]
    assert seen == [("2026.12.0", "needs_approval")] * 40
    assert published(db) == [(1, ["2026.11.0"]), (2, ["2026.12.0"])]


def test_instances_started_with_different_directories_end_with_the_last_publish(
    fleet: Fleet, db: str, tmp_path: Path
) -> None:
    first = policy_dir(tmp_path, "2026.12.0", am_ceiling=5)
    second = policy_dir(tmp_path, "2026.12.1", am_ceiling=9)
    a = fleet.start(first)
    fleet.setup_org(a)
    b = fleet.start(second)
    assert published(db) == [(1, ["2026.12.0"]), (2, ["2026.12.1"])]
    seen = {fleet.evaluate(server) for _ in range(10) for server in (a, b)}
    assert seen == {("2026.12.1", "approved")}  # 8 is within 9, the last publish
    assert fleet.policies(a)["generation"] == fleet.policies(b)["generation"] == 2

    assert a.process is not None
    os.kill(a.process.pid, signal.SIGHUP)  # "publish my directory"; a's workers are replaced
    assert wait_until_ready(a, generation=3) and wait_until_ready(b, generation=3)
    seen = {fleet.evaluate(server) for _ in range(10) for server in (a, b)}
    assert seen == {("2026.12.0", "needs_approval")}
    assert published(db) == [(1, ["2026.12.0"]), (2, ["2026.12.1"]), (3, ["2026.12.0"])]


def test_an_instance_following_the_database_ignores_its_directory(
    fleet: Fleet, db: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = subprocess.run(  # noqa: S603
        [DEALDESK, "serve", "--port", str(free_port())],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": db,
            "DEALDESK_POLICY_DIR": str(empty),
            "DEALDESK_POLICY_SOURCE": "database",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "dealdesk: DEALDESK_POLICY_SOURCE=database, but no policy set has been published "
        "yet: run `dealdesk policy publish DIR` first."
    )

    stricter = policy_dir(tmp_path, "2026.12.0", am_ceiling=5)
    a = fleet.start(stricter)
    fleet.setup_org(a)
    follower = fleet.start(empty, DEALDESK_POLICY_SOURCE="database")
    stale = fleet.start(POLICIES, DEALDESK_POLICY_SOURCE="database")
    for server in (follower, stale) * 5:
        assert fleet.evaluate(server) == ("2026.12.0", "needs_approval")
    assert published(db) == [(1, ["2026.12.0"])]
    shutil.rmtree(stricter)
    status, _ = call(stale.port, "POST", "/v1/policies/reload", key=fleet.key)
    assert status == 409
    assert fleet.policies(stale) == fleet.policies(a)
