"""Replay a candidate over logged decisions, shadow policies beside the active one, and the
exact policy bytes kept in policy_versions."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.config import Settings
from api.policy.loader import PolicySet, load_policy_dir
from tests.conftest import POLICIES
from tests.http.conftest import deal

pytestmark = pytest.mark.usefixtures("org")
SHIPPED_TEXT = (POLICIES / "deal-authority.yaml").read_text()
STRICTER = SHIPPED_TEXT.replace(
    "account_manager: 10, sales_manager: 15", "account_manager: 5, sales_manager: 15"
)


def log(
    client: FlaskClient,
    admin: dict[str, str],
    discount: str,
    as_of: str = "2026-06-10",
    **fields: object,
) -> str:
    body = {
        "deal": deal(discount_pct=discount, **fields),
        "requested_by": "am.jones",
        "as_of": as_of,
    }
    response = client.post("/v1/evaluations", json=body, headers=admin)
    assert response.status_code == 200
    return str(response.json["outcome"])


def test_simulate_a_stricter_candidate(client: FlaskClient, admin: dict[str, str]) -> None:
    outcomes = [log(client, admin, d) for d in ("4", "5", "6", "8", "12", "55")]
    assert outcomes == ["approved"] * 4 + ["needs_approval", "denied"]
    report = client.post("/v1/policies/simulate", json={"policy": STRICTER}, headers=admin).json
    assert (report["evaluated"], report["changed"], report["skipped"]) == (6, 2, 0)
    assert report["transitions"] == {"approved->needs_approval": 2}
    assert report["approval_load"] == {"sales_manager": {"before": 1, "after": 3, "delta": 2}}
    assert (
        sorted(s["after"]["required_tiers"] for s in report["samples"]) == [["sales_manager"]] * 2
    )


def test_replay_is_pinned_to_the_original_date(client: FlaskClient, admin: dict[str, str]) -> None:
    log(client, admin, "5", as_of="2027-01-25", special_billing=True)  # year-end: denied
    log(client, admin, "5", as_of="2026-06-10", special_billing=True)  # mid-year: approved
    no_rule = SHIPPED_TEXT.replace(
        "      deny: Special billing", "      flag: special_billing\n      because: Special billing"
    )
    report = client.post("/v1/policies/simulate", json={"policy": no_rule}, headers=admin).json
    assert report["transitions"] == {"denied->approved": 1}
    assert report["samples"][0]["as_of"] == "2027-01-25"


def test_simulate_window_and_bad_candidate(client: FlaskClient, admin: dict[str, str]) -> None:
    log(client, admin, "8")
    empty = client.post(
        "/v1/policies/simulate", json={"policy": STRICTER, "to": "2000-01-01"}, headers=admin
    )
    assert (empty.json["evaluated"], empty.json["changed"]) == (0, 0)
    reversed_window = client.post(
        "/v1/policies/simulate",
        json={"policy": STRICTER, "from": "2026-07-01", "to": "2026-06-30"},
        headers=admin,
    )
    assert (reversed_window.status_code, reversed_window.json["errors"]) == (
        422,
        {"from": ["Must be on or before to (2026-06-30)."], "to": ["Is before from (2026-07-01)."]},
    )
    bad = client.post("/v1/policies/simulate", json={"policy": "kind: [nope"}, headers=admin)
    assert bad.status_code == 422 and "not valid YAML" in bad.json["detail"]


def test_shadow_policy_is_logged_and_reported(
    tmp_path: Path, settings: Settings, pool: ConnectionPool, admin: dict[str, str], db: str
) -> None:
    (tmp_path / "active.yaml").write_text(SHIPPED_TEXT)
    (tmp_path / "shadow.yaml").write_text(
        STRICTER.replace("name: deal-authority", "name: stricter").replace(
            "status: active", "status: shadow"
        )
    )
    policies: PolicySet = load_policy_dir(tmp_path)
    client = create_app(settings, pool=pool, policy_set=policies).test_client()
    for discount in ("4", "6", "8", "12"):
        log(client, admin, discount)
    listed = client.get("/v1/policies", headers=admin).json["items"]
    assert [(p["name"], p["status"], p["agreement"]) for p in listed] == [
        ("deal-authority", "active", None),
        ("stricter", "shadow", {"decisions": 4, "agreed": 2, "rate": "0.5000"}),
    ]
    submitted = client.post(
        "/v1/approval-requests",
        headers=admin,
        json={"deal": deal(discount_pct="6"), "requested_by": "am.jones"},
    )
    assert submitted.json["state"] == "approved"  # the shadow never binds
    with psycopg.connect(db) as conn:
        kinds = conn.execute(
            "SELECT kind, shadow->0->>'outcome' FROM decisions ORDER BY created_at"
        ).fetchall()
    assert kinds[-1] == ("submission", "needs_approval")


def test_policy_bytes_are_kept(client: FlaskClient, app: object, db: str) -> None:
    app.extensions["dealdesk"].publish_directory("test")  # type: ignore[attr-defined]
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT name, source FROM policy_versions").fetchall()
    assert [(name, bytes(source)) for name, source in rows] == [
        ("deal-authority", (POLICIES / "deal-authority.yaml").read_bytes())
    ]


def test_cli_replay(
    client: FlaskClient,
    admin: dict[str, str],
    db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from api.cli import main

    for discount in ("4", "8"):
        log(client, admin, discount)
    (tmp_path / "candidate.yaml").write_text(STRICTER)
    monkeypatch.setenv("DATABASE_URL", db)
    assert main(["policy", "replay", str(tmp_path / "candidate.yaml")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["evaluated"], report["changed"], report["transitions"]) == (
        2,
        1,
        {"approved->needs_approval": 1},
    )
