"""The people registry and the audit chain over HTTP, including tamper detection by direct SQL."""

from __future__ import annotations

import psycopg
import pytest
from flask.testing import FlaskClient


def put(client: FlaskClient, headers: dict[str, str], person_id: str, **body: object) -> object:
    return client.put(f"/v1/people/{person_id}", json=body, headers=headers)


def test_create_then_replace_a_person(client: FlaskClient, admin: dict[str, str]) -> None:
    created = put(client, admin, "vp.a", name="A", tier="vp_sales", email="a@example.com")
    assert created.status_code == 201  # type: ignore[attr-defined]
    replaced = put(client, admin, "vp.a", name="A2", tier="cfo", active=False)
    assert replaced.status_code == 200  # type: ignore[attr-defined]
    body = client.get("/v1/people/vp.a", headers=admin).json
    assert {
        k: body[k] for k in ("id", "name", "tier", "active", "email", "manager_id", "delegate")
    } == {
        "id": "vp.a",
        "name": "A2",
        "tier": "cfo",
        "active": False,
        "email": None,
        "manager_id": None,
        "delegate": None,
    }


PEOPLE_ERRORS = [
    (
        {"name": "X", "tier": "intern"},
        {
            "tier": [
                "Must be one of the active policy's tiers: "
                "account_manager, sales_manager, sales_director, "
                "vp_sales, cfo, ceo."
            ]
        },
    ),
    (
        {"name": "X", "tier": "cfo", "manager_id": "ghost"},
        {"manager_id": ["No person 'ghost' in the registry."]},
    ),
    (
        {"name": "X", "tier": "cfo", "manager_id": "x"},
        {"manager_id": ["A person cannot be their own manager."]},
    ),
    (
        {"name": "X", "tier": "cfo", "delegate": {"id": "ghost"}},
        {"delegate.id": ["No person 'ghost' in the registry."]},
    ),
    ({"tier": "cfo"}, {"name": ["Missing data for required field."]}),
]


@pytest.mark.parametrize(
    ("body", "errors"), PEOPLE_ERRORS, ids=["tier", "manager", "self-manager", "delegate", "name"]
)
def test_person_validation(
    client: FlaskClient,
    admin: dict[str, str],
    body: dict[str, object],
    errors: dict[str, list[str]],
) -> None:
    response = client.put("/v1/people/x", json=body, headers=admin)
    assert (response.status_code, response.json["errors"]) == (422, errors)


def test_manager_cycle_refused(client: FlaskClient, admin: dict[str, str]) -> None:
    put(client, admin, "a", name="A", tier="ceo")
    put(client, admin, "b", name="B", tier="cfo", manager_id="a")
    response = client.put(
        "/v1/people/a", json={"name": "A", "tier": "ceo", "manager_id": "b"}, headers=admin
    )
    assert response.json["errors"] == {
        "manager_id": ["'b' reports to 'a': that would make a cycle."]
    }


def test_unknown_person_is_404(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.get("/v1/people/nobody", headers=admin)
    assert (response.status_code, response.json["detail"]) == (404, "No person 'nobody'.")


def test_people_pages_cover_everyone_once(client: FlaskClient, admin: dict[str, str]) -> None:
    for i in range(7):
        put(client, admin, f"p{i}", name=f"P{i}", tier="account_manager")
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/v1/people{query}", headers=admin).json
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{i}" for i in range(7)]
    bad = client.get("/v1/people?cursor=zzz", headers=admin)
    assert (bad.status_code, bad.json["errors"]) == (
        422,
        {"cursor": ["Not a cursor returned by this endpoint."]},
    )
    over = client.get("/v1/people?limit=501", headers=admin)
    assert over.status_code == 422 and list(over.json["errors"]) == ["limit"]


def test_changes_are_chained_events(client: FlaskClient, admin: dict[str, str]) -> None:
    put(client, admin, "c", name="C", tier="cfo")
    put(client, admin, "c", name="C", tier="ceo")
    events = client.get("/v1/audit/events?after=0&limit=2", headers=admin).json
    assert [e["type"] for e in events["items"]] == ["key.created", "person.created"]
    assert events["next_cursor"] == 2
    rest = client.get("/v1/audit/events?after=2", headers=admin).json
    assert [(e["type"], e["payload"]["tier"]) for e in rest["items"]] == [("person.updated", "ceo")]
    assert rest["next_cursor"] is None
    assert rest["items"][0]["prev_hash"] == events["items"][1]["hash"]
    verdict = client.get("/v1/audit/verify", headers=admin).json
    assert verdict == {
        "ok": True,
        "events": 3,
        "head_hash": rest["items"][0]["hash"],
        "first_bad_event_id": None,
    }


def test_triggers_refuse_update_delete_truncate(
    client: FlaskClient, admin: dict[str, str], db: str
) -> None:
    put(client, admin, "c", name="C", tier="cfo")
    for statement in (
        "UPDATE audit_events SET actor = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ):
        with (
            psycopg.connect(db) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege) as caught,
        ):
            conn.execute(statement)
        assert "audit_events is append-only" in str(caught.value)


@pytest.mark.parametrize(
    ("tamper", "bad_id"),
    [
        (
            "UPDATE audit_events SET payload = jsonb_set(payload, '{tier}', '\"ceo\"') "
            "WHERE id = 2",
            2,
        ),
        ("DELETE FROM audit_events WHERE id = 2", 3),
        ("UPDATE audit_events SET actor = 'someone-else' WHERE id = 3", 3),
    ],
    ids=["edit-payload", "delete-row", "edit-actor"],
)
def test_verify_names_the_first_bad_event(
    client: FlaskClient, admin: dict[str, str], db: str, tamper: str, bad_id: int
) -> None:
    for i in range(3):
        put(client, admin, f"t{i}", name="T", tier="cfo")
    with psycopg.connect(db) as conn:
        conn.execute("SET session_replication_role = replica")  # a superuser bypassing triggers
        conn.execute(tamper)
    verdict = client.get("/v1/audit/verify", headers=admin).json
    assert (verdict["ok"], verdict["first_bad_event_id"]) == (False, bad_id)
