"""Shared fixtures: a real PostgreSQL (embedded unless DATABASE_URL is set), a scratch database
per test session, and a clean slate per test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from api.config import Settings
from api.policy.loader import PolicySet, load_policy_dir
from api.storage.database import init_database, open_pool, start_embedded

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
TABLES = (
    "action_links",
    "notifications",
    "console_sessions",
    "override_totals",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_events",
    "webhook_subscriptions",
    "audit_checkpoints",
    "report_rollups",
    "rollup_offsets",
    "rollup_submissions",
    "rollup_submitted_values",
    "rollup_override_buckets",
    "rollup_asks",
    "rollup_actions",
    "rollup_categories",
    "ask_levers",
    "asks",
    "step_actions",
    "step_timings",
    "step_timing_totals",
    "withdrawals",
    "override_reviews",
    "overrides",
    "idempotency_keys",
    "approval_steps",
    "approval_requests",
    "audit_events",
    "decisions",
    "policy_set",
    "policy_versions",
    "api_keys",
    "people",
)


INSTALL_CHROMIUM = "apt-get update && apt-get install -y chromium"


def chromium_path() -> str | None:
    """Debian's chromium (or DEALDESK_CHROMIUM): the browser tests drive it, never a download."""
    chosen = os.environ.get("DEALDESK_CHROMIUM") or shutil.which("chromium")
    return chosen if chosen and os.access(chosen, os.X_OK) else None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without a Chromium the browser tests are not collected (rather than skipped); the
    summary at the end says so and how to install one."""
    if "browser" in collection_path.parts and chromium_path() is None:
        return True
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    artifacts = ROOT / "tests" / "artifacts"
    if chromium_path() is None:
        terminalreporter.write_sep("=", "browser tests NOT run", yellow=True, bold=True)
        terminalreporter.write_line(
            "No Chromium was found, so the console's browser tests (tests/browser) did not run."
        )
        terminalreporter.write_line(f"Install one with:  {INSTALL_CHROMIUM}")
    elif artifacts.is_dir() and any(artifacts.glob("*.png")):
        terminalreporter.write_line(f"console screenshots: {artifacts}")


@pytest.fixture(scope="session")
def server_url() -> str:
    return os.environ.get("DATABASE_URL") or start_embedded(ROOT / ".dealdesk" / "test")


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A scratch database for this session, dropped at the end."""
    name = f"dealdesk_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    init_database(url)
    yield url
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def pool(database_url: str) -> Iterator[ConnectionPool]:
    pool = open_pool(database_url, max_size=24)
    pool.wait(timeout=10)
    yield pool
    pool.close()


def wipe(url: str) -> None:
    """Empty every table, audit_events included (its triggers are bypassed as replication)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in TABLES)
            )
        )
        conn.execute("SELECT setval('audit_events_id_seq', 1, false)")
        conn.execute("INSERT INTO policy_set (one, generation) VALUES (true, 0)")  # as seeded
        # the triggers that bump it were bypassed too; running apps must notice the change
        conn.execute("UPDATE registry_generation SET n = n + 1")


@pytest.fixture()
def db(database_url: str) -> str:
    wipe(database_url)
    return database_url


@pytest.fixture(scope="session")
def shipped() -> PolicySet:
    return load_policy_dir(POLICIES)


@pytest.fixture()
def settings(db: str) -> Settings:
    return Settings(
        database_url=db,
        policy_dir=POLICIES,
        home=ROOT / ".dealdesk" / "test",
        today=date(2026, 6, 10),
    )
