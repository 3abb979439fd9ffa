"""SCIM requests replayed as Okta and Microsoft Entra ID really send them (DESIGN 13; the
shapes are from the identity fact sheet: Okta's developer guide, Microsoft's SCIM known
issues, and the PRs of servers that had to accept them)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.http.scim_client import DEALDESK, ENTERPRISE, USERS, Scim, error, user

pytestmark = pytest.mark.usefixtures("db")


def person(client: FlaskClient, admin: dict[str, str], person_id: str) -> dict[str, Any]:
    body = client.get(f"/v1/people/{person_id}", headers=admin).json
    return {k: body[k] for k in ("id", "name", "tier", "manager_id", "active", "email")}


def listed(response: Any) -> tuple[int, int, int, list[str]]:
    body = response.json
    assert response.mimetype == "application/scim+json"
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    ids = [r["id"] for r in body["Resources"]]
    return body["totalResults"], body["startIndex"], body["itemsPerPage"], ids


# --- Okta -------------------------------------------------------------------------------


def test_okta_connection_test_lists_two_from_one(scim: Scim) -> None:
    for name in ("ann@example.com", "bob@example.com", "cy@example.com"):
        assert scim.post(user(name)).status_code == 201
    response = scim.call("GET", f"{USERS}?startIndex=1&count=2")
    assert response.status_code == 200
    assert listed(response) == (3, 1, 2, ["ann@example.com", "bob@example.com"])
    assert listed(scim.call("GET", f"{USERS}?startIndex=3&count=2")) == (
        3,
        3,
        1,
        ["cy@example.com"],
    )
    assert listed(scim.call("GET", f"{USERS}?startIndex=9&count=2")) == (3, 9, 0, [])


def test_okta_filters_by_user_name_before_it_creates(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    query = f'{USERS}?filter=userName eq "Ann.Lee@Example.com"&startIndex=1&count=100'
    assert listed(scim.call("GET", query)) == (0, 1, 0, [])
    created = scim.post(user("Ann.Lee@Example.com", externalId="00u1"))
    assert created.status_code == 201
    assert created.headers["Location"] == "http://localhost/scim/v2/Users/ann.lee@example.com"
    body = created.json
    assert (body["id"], body["userName"], body["active"]) == (
        "ann.lee@example.com",
        "Ann.Lee@Example.com",
        True,
    )
    assert body[DEALDESK] == {"tier": "account_manager"}  # no tier sent: the lowest
    # userName is compared case-insensitively, as RFC 7643 says for it
    query = f'{USERS}?filter=userName eq "ann.lee@example.com"'
    assert listed(scim.call("GET", query)) == (1, 1, 1, ["ann.lee@example.com"])
    assert person(client, admin, "ann.lee@example.com") == {
        "id": "ann.lee@example.com",
        "name": "Ann.Lee Test",
        "tier": "account_manager",
        "manager_id": None,
        "active": True,
        "email": "Ann.Lee@Example.com",
    }


def test_okta_put_of_the_whole_user_keeps_tier_and_active(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(user("ann@example.com", **{DEALDESK: {"tier": "sales_director"}}))
    body = user("ann@example.com", name={"givenName": "Ann", "familyName": "Lee"})
    del body["active"]  # an App Wizard app's PUT may leave it out: that is not a suspension
    response = scim.call("PUT", f"{USERS}/ann@example.com", body)
    assert response.status_code == 200
    assert (response.json["name"], response.json["active"]) == (
        {"givenName": "Ann", "familyName": "Lee"},
        True,
    )
    assert person(client, admin, "ann@example.com")["name"] == "Ann Lee"
    assert person(client, admin, "ann@example.com")["tier"] == "sales_director"


def test_okta_deactivates_with_a_no_path_replace(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(user("ann@example.com"))
    response = scim.patch("ann@example.com", {"op": "replace", "value": {"active": False}})
    assert (response.status_code, response.json["active"]) == (200, False)
    assert person(client, admin, "ann@example.com")["active"] is False
    # deactivated, not deleted: Okta can still read and reactivate the user
    assert scim.call("GET", f"{USERS}/ann@example.com").json["active"] is False
    again = scim.patch("ann@example.com", {"op": "replace", "value": {"active": True}})
    assert again.json["active"] is True


def test_okta_manager_value_as_an_email(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(user("boss@example.com", externalId="00u-boss"))
    scim.post(user("ann@example.com", **{ENTERPRISE: {"manager": {"value": "BOSS@example.com"}}}))
    assert person(client, admin, "ann@example.com")["manager_id"] == "boss@example.com"
    manager = scim.call("GET", f"{USERS}/ann@example.com").json[ENTERPRISE]["manager"]
    assert manager == {
        "value": "boss@example.com",
        "$ref": "http://localhost/scim/v2/Users/boss@example.com",
    }
    # by externalId (an HR id) too
    scim.post(user("cy@example.com", **{ENTERPRISE: {"manager": {"value": "00u-boss"}}}))
    assert person(client, admin, "cy@example.com")["manager_id"] == "boss@example.com"


# --- Microsoft Entra ID ------------------------------------------------------------------

ENTRA_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7b2ff1f5e3b1",
    "userName": "Dana.Ng@contoso.com",
    "active": "True",
    "displayName": "Dana Ng",
    "emails": [{"primary": True, "type": "work", "value": "dana.ng@contoso.com"}],
    "name": {"formatted": "Dana Ng", "familyName": "Ng", "givenName": "Dana"},
}


def test_entra_create_with_string_active_and_filters(scim: Scim) -> None:
    # the tenant URL carries ?aadOptscim062020, so every request does
    created = scim.call("POST", f"{USERS}?aadOptscim062020", ENTRA_USER)
    assert created.status_code == 201
    assert (created.json["id"], created.json["active"]) == ("dana.ng@contoso.com", True)
    for query in (
        'emails[type eq "work"].value eq "Dana.Ng@contoso.com"',
        'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7b2ff1f5e3b1"',
        'emails.value eq "dana.ng@contoso.com"',
        'userName eq "dana.ng@contoso.com"',
    ):
        assert listed(scim.call("GET", f"{USERS}?aadOptscim062020&filter={query}")) == (
            1,
            1,
            1,
            ["dana.ng@contoso.com"],
        ), query
    # externalId is case-exact: another case is another id
    query = 'externalId eq "0A21F0F2-8D2A-4F8E-BF98-7B2FF1F5E3B1"'
    assert listed(scim.call("GET", f"{USERS}?filter={query}")) == (0, 1, 0, [])


def test_entra_patch_capitalised_ops_strings_and_dotted_keys(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(ENTRA_USER)
    response = scim.patch(
        "dana.ng@contoso.com",
        {"op": "Replace", "path": "displayName", "value": "Dana N."},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "dana@contoso.com"},
        {"op": "Replace", "value": {"name.formatted": "Dana Ng-Lee", "name.familyName": "Ng-Lee"}},
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["displayName"] == "Dana N."
    assert body["emails"] == [{"primary": True, "type": "work", "value": "dana@contoso.com"}]
    assert body["name"] == {"formatted": "Dana Ng-Lee", "familyName": "Ng-Lee", "givenName": "Dana"}
    assert person(client, admin, "dana.ng@contoso.com") == {
        "id": "dana.ng@contoso.com",
        "name": "Dana Ng-Lee",
        "tier": "account_manager",
        "manager_id": None,
        "active": True,
        "email": "dana@contoso.com",
    }
    off = scim.patch("dana.ng@contoso.com", {"op": "Replace", "path": "active", "value": "False"})
    assert off.json["active"] is False
    assert person(client, admin, "dana.ng@contoso.com")["active"] is False


def test_entra_bare_string_manager_then_remove(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(ENTRA_USER)
    boss = scim.post(user("boss@contoso.com")).json["id"]
    path = f"{ENTERPRISE}:manager"
    response = scim.patch("dana.ng@contoso.com", {"op": "Add", "path": path, "value": boss})
    assert response.json[ENTERPRISE] == {
        "manager": {"value": boss, "$ref": f"http://localhost/scim/v2/Users/{boss}"}
    }
    assert person(client, admin, "dana.ng@contoso.com")["manager_id"] == boss
    # a no-path replace with the URN-qualified key, as a bare string too
    other = scim.post(user("other@contoso.com")).json["id"]
    scim.patch("dana.ng@contoso.com", {"op": "replace", "value": {path: other}})
    assert person(client, admin, "dana.ng@contoso.com")["manager_id"] == other
    gone = scim.patch("dana.ng@contoso.com", {"op": "Remove", "path": path})
    assert ENTERPRISE not in gone.json
    assert person(client, admin, "dana.ng@contoso.com")["manager_id"] is None


def test_manager_named_before_they_are_provisioned(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    ann = user("ann@example.com", **{ENTERPRISE: {"manager": "later@example.com"}})
    assert scim.post(ann).status_code == 201
    assert person(client, admin, "ann@example.com")["manager_id"] is None
    assert scim.call("GET", f"{USERS}/ann@example.com").json[ENTERPRISE] == {
        "manager": {"value": "later@example.com"}
    }
    scim.post(user("later@example.com"))
    assert person(client, admin, "ann@example.com")["manager_id"] == "later@example.com"
    events = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    people_events = [e for e in events if e["type"].startswith("person.")]
    assert [
        (e["type"], e["actor"], e["subject"], e["payload"]["manager_id"]) for e in people_events
    ] == [
        ("person.created", "scim:okta", "ann@example.com", None),
        ("person.created", "scim:okta", "later@example.com", None),
        ("person.updated", "scim:okta", "ann@example.com", "later@example.com"),
    ]


def test_a_manager_cycle_is_refused_and_changes_nothing(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(user("boss@example.com"))
    scim.post(user("ann@example.com", **{ENTERPRISE: {"manager": {"value": "boss@example.com"}}}))
    before = client.get("/v1/audit/events?limit=500", headers=admin).json["items"]
    path = f"{ENTERPRISE}:manager"
    response = scim.patch(
        "boss@example.com", {"op": "Add", "path": path, "value": "ann@example.com"}
    )
    assert response.status_code == 400
    assert error(response) == {
        "status": "400",
        "scimType": "invalidValue",
        "detail": "'ann@example.com' reports to 'boss@example.com': that would make a cycle.",
    }
    assert person(client, admin, "boss@example.com")["manager_id"] is None
    assert client.get("/v1/audit/events?limit=500", headers=admin).json["items"] == before


def test_a_pending_manager_that_would_close_a_cycle_refuses_the_arrival(
    scim: Scim, client: FlaskClient, admin: dict[str, str]
) -> None:
    scim.post(user("ann@example.com", **{ENTERPRISE: {"manager": "bob@example.com"}}))
    bob = user("bob@example.com", **{ENTERPRISE: {"manager": "ann@example.com"}})
    response = scim.post(bob)
    assert response.status_code == 400
    assert error(response)["scimType"] == "invalidValue"
    assert client.get("/v1/people/bob@example.com", headers=admin).status_code == 404
