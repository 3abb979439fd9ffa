"""One policy set in force for every app on one database: publishing (CLI, reload) and
following (evaluation, submission, revision, override, people), on the real database.

Two apps built on one pool stand for two instances: each has its own PolicyFollower and
registry snapshot, as two `dealdesk serve` processes would."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.cli import main
from api.config import Settings
from api.policy.loader import PolicySet, load_policy_dir
from api.service.policy_sets import publish
from api.storage.database import transaction
from tests.conftest import POLICIES
from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
SHIPPED_TEXT = (POLICIES / "deal-authority.yaml").read_text()


def policy_dir(root: Path, version: str, am_ceiling: int = 10) -> Path:
    """The shipped policy with another version and account-manager discount ceiling."""
    directory = root / version
    directory.mkdir()
    text = SHIPPED_TEXT.replace('version: "2026.11.0"', f'version: "{version}"').replace(
        "account_manager: 10, sales_manager: 15",
        f"account_manager: {am_ceiling}, sales_manager: 15",
    )
    (directory / "deal-authority.yaml").write_text(text)
    return directory


def evaluate(client: FlaskClient, admin: dict[str, str], discount: str) -> dict[str, Any]:
    body = {"deal": deal(discount_pct=discount), "requested_by": "am.jones"}
    response = client.post("/v1/evaluations", json=body, headers=admin)
    assert response.status_code == 200, response.json
    return dict(response.json)


def policy_events(db: str) -> list[tuple[str, Any]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT type, payload FROM audit_events WHERE type LIKE 'policy.%' ORDER BY id"
        ).fetchall()
    return [(kind, payload) for kind, payload in rows]


def cli_publish(directory: Path, db: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("DATABASE_URL", db)
    return main(["policy", "publish", str(directory)])


@pytest.fixture()
def other(settings: Settings, pool: ConnectionPool, shipped: PolicySet) -> FlaskClient:
    """A second instance on the same database, started with the shipped directory."""
    application: Flask = create_app(settings, pool=pool, policy_set=shipped)
    application.config["TESTING"] = True
    return application.test_client()


def test_publish_bumps_the_generation_once_and_an_identical_set_changes_nothing(
    pool: ConnectionPool, db: str, shipped: PolicySet, tmp_path: Path
) -> None:
    stricter = load_policy_dir(policy_dir(tmp_path, "2026.12.0", am_ceiling=5))
    results = []
    for policies in (shipped, shipped, stricter, stricter, shipped):
        with transaction(pool) as conn:
            results.append(publish(conn, policies, "test"))
    assert [(r.generation, r.changed) for r in results] == [
        (1, True),
        (1, False),
        (2, True),
        (2, False),
        (3, True),
    ]
    assert [
        (kind, p["generation"], [x["version"] for x in p["policies"]])
        for kind, p in policy_events(db)
    ] == [
        ("policy.published", 1, ["2026.11.0"]),
        ("policy.published", 2, ["2026.12.0"]),
        ("policy.published", 3, ["2026.11.0"]),
    ]
    assert policy_events(db)[1][1]["policies"] == [
        {
            "name": "deal-authority",
            "version": "2026.12.0",
            "sha256": stricter.active.sha256,
            "status": "active",
        }
    ]


def test_cli_publish_prints_the_generation_and_refuses_a_bad_set(
    db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = policy_dir(tmp_path, "2026.12.0")
    assert cli_publish(good, db, monkeypatch) == 0
    assert capsys.readouterr().out.splitlines()[0] == "generation 1 (published)"
    assert cli_publish(good, db, monkeypatch) == 0
    assert capsys.readouterr().out.splitlines()[0] == "generation 1 (unchanged: already in force)"
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    (bad / "deal-authority.yaml").write_text("apiVersion: dealdesk/v1\nkind: AuthorityPolicy\n")
    assert cli_publish(bad, db, monkeypatch) == 1
    assert capsys.readouterr().err.splitlines() == [
        "dealdesk: the policy is refused:",
        f"  {bad}/deal-authority.yaml:1: metadata: is required",
        f"  {bad}/deal-authority.yaml:1: spec: is required",
    ]
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT generation FROM policy_set").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM policy_versions").fetchone() == (1,)
    assert [p["generation"] for _, p in policy_events(db)] == [1]


def test_a_publish_elsewhere_is_followed_by_the_next_evaluation(
    client: FlaskClient,
    other: FlaskClient,
    admin: dict[str, str],
    db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert evaluate(other, admin, "8")["outcome"] == "approved"  # both hold the shipped set
    stricter = policy_dir(tmp_path, "2026.12.0", am_ceiling=5)
    assert cli_publish(stricter, db, monkeypatch) == 0
    shutil.rmtree(stricter)  # followers read the database's bytes, never a directory
    for app in (client, other, client, other):
        decision = evaluate(app, admin, "8")
        assert (decision["outcome"], decision["policy"]["version"]) == (
            "needs_approval",
            "2026.12.0",
        )
    with psycopg.connect(db) as conn:
        logged = conn.execute(
            "SELECT outcome, count(*) FROM decisions GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert logged == [("approved", 1), ("needs_approval", 4)]  # nothing stale was logged
    for app in (client, other):
        assert app.get("/readyz").json == {"status": "ready", "generation": 1}


def test_reload_on_one_instance_is_listed_the_same_on_the_other(
    client: FlaskClient,
    app: Flask,
    other: FlaskClient,
    admin: dict[str, str],
    tmp_path: Path,
) -> None:
    runtime = app.extensions["dealdesk"]
    runtime.settings = dataclasses.replace(
        runtime.settings, policy_dir=policy_dir(tmp_path, "2026.12.0", am_ceiling=5)
    )
    reloaded = client.post("/v1/policies/reload", headers=admin).json
    listed = other.get("/v1/policies", headers=admin).json
    assert listed == reloaded
    assert (listed["generation"], [p["version"] for p in listed["items"]]) == (1, ["2026.12.0"])
    assert listed["items"][0]["loaded_at"] == listed["published_at"]


def test_submission_revision_and_people_follow_and_requests_stay_pinned(
    client: FlaskClient,
    other: FlaskClient,
    admin: dict[str, str],
    pool: ConnectionPool,
    tmp_path: Path,
    shipped: PolicySet,
) -> None:
    submitted = other.post(
        "/v1/approval-requests",
        json={"deal": deal(discount_pct="12"), "requested_by": "am.jones"},
        headers=admin,
    ).json
    assert (submitted["state"], submitted["policy_sha256"]) == ("pending", shipped.active.sha256)
    looser = load_policy_dir(policy_dir(tmp_path, "2026.12.0", am_ceiling=15))
    with transaction(pool) as conn:
        publish(conn, looser, "test")
    pinned = other.get(f"/v1/approval-requests/{submitted['id']}", headers=admin).json
    assert (pinned["state"], pinned["decision"]["policy"]["version"]) == ("pending", "2026.11.0")
    revised = other.post(
        f"/v1/approval-requests/{submitted['id']}/revise",
        json={"deal": deal(discount_pct="13"), "requested_by": "am.jones"},
        headers=admin,
    ).json
    assert (revised["state"], revised["decision"]["policy"]["version"]) == (
        "approved",
        "2026.12.0",
    )
    fresh = client.post(
        "/v1/approval-requests",
        json={"deal": deal(deal_id="Q-2", discount_pct="14"), "requested_by": "am.jones"},
        headers=admin,
    ).json
    assert (fresh["state"], fresh["policy_sha256"]) == ("approved", looser.active.sha256)
    without_ceo = policy_dir(tmp_path, "2026.12.1").joinpath("deal-authority.yaml")
    without_ceo.write_text(without_ceo.read_text().replace(", ceo]", "]").replace(", ceo: 50", ""))
    with transaction(pool) as conn:
        publish(conn, load_policy_dir(without_ceo.parent), "test")
    refused = other.put("/v1/people/ceo.new", json={"name": "New", "tier": "ceo"}, headers=admin)
    assert (refused.status_code, refused.json["errors"]) == (
        422,
        {
            "tier": [
                "Must be one of the active policy's tiers: account_manager, sales_manager, "
                "sales_director, vp_sales, cfo."
            ]
        },
    )


def test_an_instance_that_follows_the_database_refuses_to_reload(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, admin: dict[str, str]
) -> None:
    following = dataclasses.replace(settings, policy_source="database")
    client = create_app(following, pool=pool, policy_set=shipped).test_client()
    refused = client.post("/v1/policies/reload", headers=admin)
    assert (refused.status_code, refused.json["detail"]) == (
        409,
        "This instance follows the database (DEALDESK_POLICY_SOURCE=database); "
        "publish with `dealdesk policy publish DIR` or through another instance.",
    )
