"""The policies page: the set in force, stored versions, the diff of two, a candidate's replay."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.policy.diff import diff
from api.policy.loader import PolicySet, parse_policy
from api.policy.model import Policy
from api.service.replay import replay
from api.storage.database import transaction
from api.storage.decisions import store_policy_version
from tests.console.conftest import csrf_of, deal, sign_in

pytestmark = pytest.mark.usefixtures("org")
HX = {"HX-Request": "true"}


def looser(shipped: PolicySet) -> Policy:
    source = shipped.active.source.replace(
        b"account_manager: 10, sales_manager: 15,", b"account_manager: 12, sales_manager: 15,"
    ).replace(b'version: "', b'version: "9.')
    assert source != shipped.active.source
    return parse_policy(source, "candidate.yaml")


@pytest.fixture()
def stored(pool: ConnectionPool, shipped: PolicySet) -> tuple[Policy, Policy]:
    new = looser(shipped)
    with transaction(pool) as conn:
        store_policy_version(conn, shipped.active)
        store_policy_version(conn, new)
    return shipped.active, new


def test_the_set_in_force_and_every_stored_version(
    client: FlaskClient, make_key: Callable[..., str], stored: tuple[Policy, Policy]
) -> None:
    sign_in(client, make_key("audit:read", name="auditor"))
    html = client.get("/console/policies").get_data(as_text=True)
    force = html.split('id="in-force"')[1].split("</table>")[0]
    assert re.findall(r'<code class="hash">([0-9a-f]{64})</code>', force) == [stored[0].sha256]
    versions = html.split('id="versions"')[1].split("</table>")[0]
    assert sorted(re.findall(r'<code class="hash">([0-9a-f]{64})</code>', versions)) == sorted(
        p.sha256 for p in stored
    )


def test_the_diff_between_two_stored_versions_is_the_policy_diff(
    client: FlaskClient, make_key: Callable[..., str], stored: tuple[Policy, Policy]
) -> None:
    old, new = stored
    sign_in(client, make_key("audit:read", name="auditor"))
    response = client.get(f"/console/policies/diff?old={old.sha256}&new={new.sha256}", headers=HX)
    assert response.status_code == 200
    lines = re.findall(r"<li>([^<]+)</li>", response.get_data(as_text=True))
    expected = diff(old, new)
    assert expected and [line.replace("&gt;", ">") for line in lines] == expected
    assert any("account_manager" in line and "(loosened)" in line for line in expected)
    same = client.get(f"/console/policies/diff?old={old.sha256}&new={old.sha256}", headers=HX)
    assert "No change in authority" in same.get_data(as_text=True)
    missing = client.get(f"/console/policies/diff?old={'0' * 64}&new={new.sha256}", headers=HX)
    assert missing.status_code == 422
    assert "<code>old</code>: Choose a stored version." in missing.get_data(as_text=True)


def upload(client: FlaskClient, html: str, source: bytes, **form: str) -> Any:
    data: dict[str, Any] = {
        "csrf_token": csrf_of(html),
        "candidate": (io.BytesIO(source), "candidate.yaml"),
        **form,
    }
    return client.post(
        "/console/policies/replay", data=data, headers=HX, content_type="multipart/form-data"
    )


def test_replay_of_an_uploaded_candidate_is_the_replay_service(
    client: FlaskClient,
    make_key: Callable[..., str],
    admin: dict[str, str],
    pool: ConnectionPool,
    shipped: PolicySet,
) -> None:
    for i, pct in enumerate(["9", "11", "11.5", "14"]):
        body = {"deal": deal(deal_id=f"E-{i}", discount_pct=pct), "requested_by": "am.jones"}
        assert client.post("/v1/evaluations", json=body, headers=admin).status_code == 200
    candidate = looser(shipped)
    with transaction(pool) as conn:
        expected = replay(conn, candidate, None, None)
    assert expected["evaluated"] == 4 and expected["changed"] == 2
    sign_in(client, make_key("audit:read", "policies", name="author"))
    page = client.get("/console/policies").get_data(as_text=True)
    response = upload(client, page, candidate.source)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"{expected['evaluated']} decisions replayed, {expected['changed']} would change" in html
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td></tr>', html)
    assert [(k.replace(" → ", "->"), int(n)) for k, n in rows] == list(
        expected["transitions"].items()
    )
    bad = upload(client, page, b"apiVersion: dealdesk/v1\nkind: Nonsense\n")
    assert bad.status_code == 422, bad.get_data(as_text=True)
    assert "<code>candidate</code>:" in bad.get_data(as_text=True)
    bad_date = upload(client, page, candidate.source, **{"from": "June"})
    assert bad_date.status_code == 422
    assert "<code>from</code>: A date as YYYY-MM-DD." in bad_date.get_data(as_text=True)


def test_replay_needs_the_policies_scope(
    client: FlaskClient, make_key: Callable[..., str], shipped: PolicySet
) -> None:
    sign_in(client, make_key("audit:read", name="auditor"))
    page = client.get("/console/policies").get_data(as_text=True)
    assert 'id="no-replay"' in page and 'name="candidate"' not in page
    response = upload(client, page, shipped.active.source)
    assert response.status_code == 403
    assert "needs an API key with the `policies` scope" in response.get_data(as_text=True)
