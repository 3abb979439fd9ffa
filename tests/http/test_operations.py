"""What an operator sees: readiness with the database down, policy reload, error shapes."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from flask.testing import FlaskClient

from api.app import create_app
from api.config import Settings
from api.policy.loader import PolicySet
from api.storage.database import open_pool
from tests.conftest import POLICIES


def test_database_down_is_503_with_retry_after_and_healthz_stays_up(shipped: PolicySet) -> None:
    pool = open_pool(
        "postgresql://dealdesk@127.0.0.1:1/none", min_size=0, timeout_s=1.0, connect_timeout_s=1
    )
    try:
        app = create_app(Settings(policy_dir=POLICIES), pool=pool, policy_set=shipped)
        client = app.test_client()
        assert client.get("/healthz").json == {"status": "ok"}
        for path in ("/readyz", "/v1/people"):
            started = time.monotonic()
            response = client.get(path, headers={"Authorization": "Bearer ddk_x"})
            assert time.monotonic() - started < 10
            assert (response.status_code, response.mimetype) == (503, "application/problem+json")
            assert response.headers["Retry-After"] == "5"
            assert response.json["detail"] == "The database is unreachable; retry shortly."
    finally:
        pool.close()


def test_policies_list_and_reload(
    client: FlaskClient, admin: dict[str, str], app: object, tmp_path: Path, shipped: PolicySet
) -> None:
    listed = client.get("/v1/policies", headers=admin).json
    assert [(p["name"], p["version"], p["status"], p["sha256"]) for p in listed["items"]] == [
        ("deal-authority", "2026.11.0", "active", shipped.active.sha256)
    ]
    assert (listed["generation"], listed["published_by"]) == (0, None)  # nothing published yet
    runtime = app.extensions["dealdesk"]  # type: ignore[attr-defined]
    import dataclasses

    shutil.copy(POLICIES / "deal-authority.yaml", tmp_path / "p.yaml")
    runtime.settings = dataclasses.replace(runtime.settings, policy_dir=tmp_path)
    (tmp_path / "p.yaml").write_text(
        (tmp_path / "p.yaml").read_text().replace('version: "2026.11.0"', 'version: "2026.11.1"')
    )
    reloaded = client.post("/v1/policies/reload", headers=admin).json
    assert [p["version"] for p in reloaded["items"]] == ["2026.11.1"]
    assert (reloaded["generation"], reloaded["published_by"]) == (1, "key:admin")
    again = client.post("/v1/policies/reload", headers=admin).json  # the set in force: no-op
    assert (again["generation"], again["published_at"]) == (1, reloaded["published_at"])
    (tmp_path / "p.yaml").write_text("apiVersion: dealdesk/v1\nkind: AuthorityPolicy\n")
    refused = client.post("/v1/policies/reload", headers=admin)
    assert refused.status_code == 422
    assert refused.json["errors"] == {
        f"{tmp_path}/p.yaml:metadata": ["is required"],
        f"{tmp_path}/p.yaml:spec": ["is required"],
    }
    still = client.get("/v1/policies", headers=admin).json
    assert ([p["version"] for p in still["items"]], still["generation"]) == (["2026.11.1"], 1)
    events = client.get("/v1/audit/events", headers=admin).json["items"]
    published = [e for e in events if e["type"].startswith("policy")]
    assert [(e["type"], e["actor"], e["payload"]["generation"]) for e in published] == [
        ("policy.published", "key:admin", 1)
    ]
    assert [p["version"] for p in published[0]["payload"]["policies"]] == ["2026.11.1"]


def test_unknown_path_and_method(client: FlaskClient, admin: dict[str, str]) -> None:
    missing = client.get("/v1/nothing", headers=admin)
    assert (missing.status_code, missing.mimetype, missing.json["detail"]) == (
        404,
        "application/problem+json",
        "No resource at /v1/nothing.",
    )
    wrong = client.delete("/v1/evaluations", headers=admin)
    assert (wrong.status_code, wrong.json["title"]) == (405, "Method Not Allowed")
    assert "POST" in wrong.headers["Allow"]
    bad_id = client.get("/v1/approval-requests/not-a-uuid", headers=admin)
    assert (bad_id.status_code, bad_id.json["detail"]) == (404, "No approval request 'not-a-uuid'.")
