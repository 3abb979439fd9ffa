"""SCIM's effects on the registry: linking, tiers, deactivation (never deletion), the audit
chain, the registry generation the evaluation path relies on, and people-bound keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.service.keys import issue_key
from api.storage.database import transaction
from tests.http.conftest import deal
from tests.http.scim_client import DEALDESK, USERS, Scim, error, user

pytestmark = pytest.mark.usefixtures("org")


def person(client: FlaskClient, admin: dict[str, str], person_id: str) -> dict[str, Any]:
    body = client.get(f"/v1/people/{person_id}", headers=admin).json
    return {k: body[k] for k in ("id", "name", "tier", "manager_id", "active", "email")}


def people_events(client: FlaskClient, admin: dict[str, str]) -> list[tuple[str, str, str]]:
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    return [(e["type"], e["actor"], e["subject"]) for e in events if e["actor"].startswith("scim")]


def generation(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT n FROM registry_generation").fetchone()
    assert row is not None
    return int(row[0])


def test_post_links_to_the_person_its_email_names_and_keeps_the_tier(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    client.put(
        "/v1/people/sd.patel",
        json={
            "name": "Patel",
            "tier": "sales_director",
            "manager_id": "vp.garcia",
            "email": "priya.patel@example.com",
        },
        headers=admin,
    )
    response = scim.post(
        user(
            "ppatel@idp.example.com",
            emails=[{"value": "Priya.Patel@example.com", "primary": True, "type": "work"}],
        )
    )
    assert response.status_code == 201
    assert (response.json["id"], response.json[DEALDESK]) == (
        "sd.patel",
        {"tier": "sales_director"},
    )
    assert person(client, admin, "sd.patel") == {
        "id": "sd.patel",
        "name": "Ppatel Test",
        "tier": "sales_director",
        "manager_id": "vp.garcia",  # no manager sent: the org chart stays
        "active": True,
        "email": "Priya.Patel@example.com",
    }
    # a second POST for the same person is a uniqueness conflict (RFC 7644 3.3)
    again = scim.post(
        user(
            "other@idp.example.com", emails=[{"value": "priya.patel@example.com", "primary": True}]
        )
    )
    assert (again.status_code, error(again)) == (
        409,
        {
            "status": "409",
            "scimType": "uniqueness",
            "detail": "'sd.patel' is already provisioned as 'ppatel@idp.example.com'.",
        },
    )


def test_post_links_by_external_id_and_takes_the_tier_it_sends(
    scim: Scim, client: FlaskClient, admin: dict[str, str], pool: ConnectionPool
) -> None:
    with transaction(pool) as conn:
        conn.execute("UPDATE people SET external_id = 'E-77' WHERE id = 'am.kim'")
    body = user("kim@example.com", externalId="E-77", **{DEALDESK: {"tier": "sales_manager"}})
    response = scim.post(body)
    assert (response.status_code, response.json["id"]) == (201, "am.kim")
    assert person(client, admin, "am.kim")["tier"] == "sales_manager"


def test_a_tier_outside_the_policy_is_refused_and_nothing_is_written(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    response = scim.post(user("ann@example.com", **{DEALDESK: {"tier": "intern"}}))
    assert (response.status_code, error(response)) == (
        400,
        {
            "status": "400",
            "scimType": "invalidValue",
            "detail": "`tier` 'intern' is not a tier of the active policy: account_manager, "
            "sales_manager, sales_director, vp_sales, cfo, ceo.",
        },
    )
    assert client.get("/v1/people/ann@example.com", headers=admin).status_code == 404
    assert people_events(client, admin) == []


def test_delete_deactivates_hides_and_a_later_post_revives(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(user("ann@example.com", **{DEALDESK: {"tier": "sales_manager"}}))
    deleted = scim.call("DELETE", f"{USERS}/ann@example.com")
    assert (deleted.status_code, deleted.data) == (204, b"")
    for method in ("GET", "DELETE"):
        gone = scim.call(method, f"{USERS}/ann@example.com")
        assert (gone.status_code, error(gone)) == (
            404,
            {"status": "404", "detail": "No User 'ann@example.com'."},
        )
    query = f'{USERS}?filter=userName eq "ann@example.com"'
    assert scim.call("GET", query).json["totalResults"] == 0
    assert person(client, admin, "ann@example.com")["active"] is False  # history names her
    revived = scim.post(user("ann@example.com"))
    assert (revived.status_code, revived.json["active"]) == (201, True)
    assert person(client, admin, "ann@example.com")["tier"] == "sales_manager"
    assert people_events(client, admin) == [
        ("person.created", "scim:okta", "ann@example.com"),
        ("person.updated", "scim:okta", "ann@example.com"),
        ("person.updated", "scim:okta", "ann@example.com"),
    ]


def test_every_change_is_the_people_audit_event_and_moves_the_generation(
    scim: Scim, client: FlaskClient, admin: dict[str, str], make_key: Callable[..., str], db: str
) -> None:
    key = {"Authorization": f"Bearer {make_key('evaluate', name='cpq')}"}
    body = {"deal": deal(discount_pct="18"), "requested_by": "am.jones"}
    first = client.post("/v1/evaluations", json=body, headers=key).json
    assert (first["outcome"], first["requester"]["tier"]) == ("needs_approval", "account_manager")
    scim.post(user("am.jones"))  # links to am.jones: userName is their id
    before = generation(db)
    promoted = scim.patch(
        "am.jones", {"op": "replace", "path": f"{DEALDESK}:tier", "value": "sales_director"}
    )
    assert promoted.status_code == 200
    assert generation(db) > before
    second = client.post("/v1/evaluations", json=body, headers=key).json
    assert (second["outcome"], second["requester"]) == (
        "approved",
        {"id": "am.jones", "tier": "sales_director"},
    )
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    last = events[-1]
    assert (last["type"], last["actor"], last["subject"]) == (
        "person.updated",
        "scim:okta",
        "am.jones",
    )
    assert last["payload"] == {
        "id": "am.jones",
        "name": "Am.Jones Test",
        "tier": "sales_director",
        "manager_id": "sm.lee",
        "active": True,
        "email": "am.jones",
        "delegate": None,
    }
    assert client.get("/v1/audit/verify", headers=admin).json["ok"] is True


def test_deactivation_stops_the_persons_bound_key_and_console_session(
    scim: Scim, client: FlaskClient, pool: ConnectionPool
) -> None:
    with transaction(pool) as conn:
        bound, _ = issue_key(conn, "jones-own", ["evaluate", "audit:read"], "test", "am.jones")
    headers = {"Authorization": f"Bearer {bound}"}
    body = {"deal": deal(), "requested_by": "am.jones"}
    assert client.post("/v1/evaluations", json=body, headers=headers).status_code == 200
    from tests.console.conftest import sign_in

    console = client.application.test_client()
    assert sign_in(console, bound).status_code == 302
    assert console.get("/console/").status_code == 200
    scim.post(user("am.jones"))
    assert (
        scim.patch("am.jones", {"op": "Replace", "path": "active", "value": "False"}).json["active"]
        is False
    )
    refused = client.post("/v1/evaluations", json=body, headers=headers)
    assert (refused.status_code, refused.json["detail"]) == (
        401,
        "The API key is not valid or has been revoked.",
    )
    assert console.get("/console/").headers["Location"].startswith("/console/sign-in")
    # reactivated: the key works again (it was never revoked)
    scim.patch("am.jones", {"op": "Replace", "path": "active", "value": "True"})
    assert client.post("/v1/evaluations", json=body, headers=headers).status_code == 200


def test_put_to_a_user_name_another_person_holds_is_409_and_writes_nothing(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(user("ann@example.com"))
    scim.post(user("bob@example.com"))
    before = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    response = scim.call("PUT", f"{USERS}/bob@example.com", user("ANN@example.com"))
    assert (response.status_code, error(response)) == (
        409,
        {
            "status": "409",
            "scimType": "uniqueness",
            "detail": "Another person already has the userName 'ANN@example.com'.",
        },
    )
    assert client.get("/v1/audit/events?limit=500", headers=admin).json["items"] == before
    assert scim.call("GET", f"{USERS}/bob@example.com").json["userName"] == "bob@example.com"


def test_changes_to_a_deleted_user_are_404(scim: Scim) -> None:
    scim.post(user("ann@example.com"))
    scim.call("DELETE", f"{USERS}/ann@example.com")
    put = scim.call("PUT", f"{USERS}/ann@example.com", user("ann@example.com"))
    patch = scim.patch("ann@example.com", {"op": "replace", "value": {"active": True}})
    for response in (put, patch):
        assert (response.status_code, error(response)) == (
            404,
            {"status": "404", "detail": "No User 'ann@example.com'."},
        )
