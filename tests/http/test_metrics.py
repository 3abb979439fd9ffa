"""/metrics in one process: what each request adds, the scope, and the switch that turns it
off. (tests/system/test_metrics.py scrapes four workers of a real server.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from api import metrics
from api.app import create_app
from api.config import ConfigError, Settings
from api.policy.loader import PolicySet
from tests.http.conftest import deal

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient, key: str) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.data.decode())
        for s in family.samples
    }


def value(samples: Samples, series: str, **labels: str) -> float:
    return samples.get((series, tuple(sorted(labels.items()))), 0.0)


def test_each_request_adds_exactly_what_it_did(
    client: FlaskClient, org: object, admin: dict[str, str], make_key: Callable[..., str]
) -> None:
    reader = make_key("metrics", name="prometheus")
    before = scrape(client, reader)
    bodies = [
        {"deal": deal(deal_id="E-1", discount_pct="5"), "requested_by": "am.jones"},
        {"deal": deal(deal_id="E-2", discount_pct="18"), "requested_by": "am.jones"},
        {"deal": deal(deal_id="E-3", discount_pct="18"), "requested_by": "am.jones"},
        {"deal": deal(currency="EUR"), "requested_by": "am.jones"},
    ]
    answers = [client.post("/v1/evaluations", json=b, headers=admin) for b in bodies]
    assert [a.status_code for a in answers] == [200, 200, 200, 422]
    outcomes = [a.json["outcome"] for a in answers[:3]]
    submitted = client.post(
        "/v1/approval-requests",
        json={"deal": deal(deal_id="E-4", discount_pct="18"), "requested_by": "am.jones"},
        headers=admin,
    )
    assert submitted.status_code == 201
    override = client.post(
        "/v1/overrides",
        json={
            "executive_id": "vp.garcia",
            "deal": deal(deal_id="E-5", discount_pct="18"),
            "terms": {"discount_pct": "35"},
            "reason_code": "competitive_displacement",
            "justification": "Competitor matched our price at quarter end.",
        },
        headers=admin,
    )
    assert override.status_code == 201
    after = scrape(client, reader)

    def delta(series: str, **labels: str) -> float:
        return value(after, series, **labels) - value(before, series, **labels)

    route = {"route": "/v1/evaluations", "method": "POST"}
    assert delta("dealdesk_http_requests_total", **route, status="200") == 3
    assert delta("dealdesk_http_requests_total", **route, status="422") == 1
    assert delta("dealdesk_http_request_duration_seconds_count", **route) == 4
    for outcome in set(outcomes):
        assert delta("dealdesk_decisions_total", outcome=outcome, source="evaluation") == (
            outcomes.count(outcome)
        )
    assert (
        delta(
            "dealdesk_decisions_total",
            outcome=submitted.json["decision"]["outcome"],
            source="submission",
        )
        == 1
    )
    for category in ("beyond_policy", "beyond_executive_authority", "bypassed_owner"):
        expected = 1 if category in override.json["categories"] else 0
        assert delta("dealdesk_overrides_total", category=category) == expected, category
    assert delta("dealdesk_http_requests_total", route="/metrics", method="GET", status="200") == 1
    policy = override.json["policy"]
    info = {"name": policy["name"], "version": policy["version"], "sha256": policy["sha256"]}
    assert value(after, "dealdesk_policy_info", **info) == 1


def test_unknown_paths_count_under_one_route(
    client: FlaskClient, make_key: Callable[..., str]
) -> None:
    reader = make_key("metrics", name="prometheus")
    before = scrape(client, reader)
    for path in ("/nope", "/v1/nothing/here", "/v1/x"):
        assert client.get(path).status_code in (401, 404)
    assert client.open("/nope", method="BREW").status_code == 404
    after = scrape(client, reader)
    labels = [labels for (name, labels) in after if name == "dealdesk_http_requests_total"]
    assert not any(dict(lab)["route"] in ("/nope", "/v1/x") for lab in labels)
    unmatched = sum(
        after[k] - before.get(k, 0.0)
        for k in after
        if k[0] == "dealdesk_http_requests_total" and dict(k[1])["route"] == "unmatched"
    )
    assert unmatched == 4
    methods = {
        dict(labels)["method"] for (name, labels) in after if name.startswith("dealdesk_http")
    }
    assert "BREW" not in methods and "other" in methods


def test_switched_off_there_are_no_hooks_and_no_endpoint(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet, make_key: Callable[..., str]
) -> None:
    off = create_app(
        Settings(**{**_fields(settings), "metrics": False}), pool=pool, policy_set=shipped
    )
    assert "dealdesk.metrics" not in off.extensions
    reader = make_key("metrics", name="prometheus")
    response = off.test_client().get("/metrics", headers={"Authorization": f"Bearer {reader}"})
    assert response.status_code == 404
    assert response.json["detail"] == "Metrics are switched off here (DEALDESK_METRICS=0)."


def _fields(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in settings.__slots__}


@pytest.mark.parametrize(
    ("text", "expected"), [("", True), ("1", True), ("on", True), ("0", False), ("false", False)]
)
def test_the_switch_reads_the_environment(text: str, expected: bool) -> None:
    assert Settings.from_env({"DEALDESK_METRICS": text}).metrics is expected


def test_a_bad_switch_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="DEALDESK_METRICS='maybe' is not 1 or 0"):
        Settings.from_env({"DEALDESK_METRICS": "maybe"})


def test_webhook_deliveries_recorded_by_the_dispatcher_function_are_scraped(
    client: FlaskClient, make_key: Callable[..., str]
) -> None:
    reader = make_key("metrics", name="prometheus")
    before = scrape(client, reader)
    metrics.record_delivery("delivered", 2.5)
    metrics.record_delivery("delivered", 0.25)
    metrics.record_delivery("failed", 30.0)
    after = scrape(client, reader)

    def delta(series: str, **labels: str) -> float:
        return value(after, series, **labels) - value(before, series, **labels)

    assert delta("dealdesk_webhook_deliveries_total", result="delivered") == 2
    assert delta("dealdesk_webhook_deliveries_total", result="failed") == 1
    assert delta("dealdesk_webhook_delivery_lag_seconds_count") == 3
    assert delta("dealdesk_webhook_delivery_lag_seconds_sum") == 32.75
    assert delta("dealdesk_webhook_delivery_lag_seconds_bucket", le="0.5") == 1
    assert delta("dealdesk_webhook_delivery_lag_seconds_bucket", le="5.0") == 2


def test_submissions_and_revisions_around_the_owner_count_their_overrides(
    client: FlaskClient, org: object, admin: dict[str, str], make_key: Callable[..., str]
) -> None:
    reader = make_key("metrics", name="prometheus")
    before = scrape(client, reader)
    reason = {
        "reason_code": "strategic_account",
        "justification": "The owner is on leave; the customer signs today.",
    }
    by_owner = client.post(
        "/v1/approval-requests",
        json={"deal": deal(deal_id="B-0", discount_pct="18"), "requested_by": "am.jones"},
        headers=admin,
    )
    around = client.post(
        "/v1/approval-requests",
        json={
            "deal": deal(deal_id="B-1", discount_pct="18"),
            "requested_by": "vp.garcia",
            **reason,
        },
        headers=admin,
    )
    assert (by_owner.status_code, around.status_code) == (201, 201), around.json
    revised = client.post(
        f"/v1/approval-requests/{around.json['id']}/revise",
        json={
            "deal": deal(deal_id="B-1", discount_pct="19"),
            "requested_by": "vp.garcia",
            **reason,
        },
        headers=admin,
    )
    assert revised.status_code == 200, revised.json
    after = scrape(client, reader)
    made = client.get("/v1/overrides", headers=admin).json["items"]
    assert len(made) == 2
    for category in ("bypassed_owner", "beyond_policy", "out_of_chain"):
        expected = sum(category in o["categories"] for o in made)
        got = value(after, "dealdesk_overrides_total", category=category) - value(
            before, "dealdesk_overrides_total", category=category
        )
        assert got == expected, category
    assert (
        value(after, "dealdesk_overrides_total", category="bypassed_owner")
        - value(before, "dealdesk_overrides_total", category="bypassed_owner")
        == 2
    )


def test_a_worker_file_still_empty_does_not_fail_the_sum_of_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker creates its file before sizing it; killed in between, it leaves 0 bytes."""
    key = mmap_key(
        "dealdesk_decisions",
        "dealdesk_decisions_total",
        ["outcome", "source"],
        ["auto_approved", "evaluation"],
        "Decisions.",
    )
    for pid, count in ((101, 3.0), (102, 4.0)):
        values = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        values.write_value(key, count, 0.0)
        values.close()
    (tmp_path / "counter_103.db").touch()
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for s in family.samples
    }
    labels = (("outcome", "auto_approved"), ("source", "evaluation"))
    assert samples == {("dealdesk_decisions_total", labels): 7.0}
