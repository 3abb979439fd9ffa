"""Changes to the people registry, each with its audit event in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from api.errors import Invalid
from api.policy.model import Policy
from api.storage import audit
from api.storage.people import Person, get_people, manager_chain, upsert_person

Save = Callable[[psycopg.Connection, dict[str, Any]], tuple[Person, bool]]


def put_person(
    conn: psycopg.Connection,
    policy: Policy,
    person_id: str,
    body: dict[str, Any],
    actor: str,
    save: Save = upsert_person,
) -> tuple[Person, bool]:
    """Create or replace a person; the tier must exist, managers and delegates must exist.

    `save` writes the row (SCIM's also writes its own columns in the same statement)."""
    delegate = body.get("delegate") or {}
    refs = [r for r in (body.get("manager_id"), delegate.get("id")) if r]
    known = get_people(conn, refs) if refs else {}
    errors: dict[str, list[str]] = {}
    if body["tier"] not in policy.ranks:
        errors["tier"] = [f"Must be one of the active policy's tiers: {', '.join(policy.tiers)}."]
    manager_id = body.get("manager_id")
    if manager_id == person_id:
        errors["manager_id"] = ["A person cannot be their own manager."]
    elif manager_id and manager_id not in known:
        errors["manager_id"] = [f"No person {manager_id!r} in the registry."]
    elif manager_id and any(p.id == person_id for p in manager_chain(conn, manager_id)):
        errors["manager_id"] = [
            f"{manager_id!r} reports to {person_id!r}: that would make a cycle."
        ]
    if delegate.get("id") == person_id:
        errors["delegate.id"] = ["A person cannot delegate to themselves."]
    elif delegate and delegate["id"] not in known:
        errors["delegate.id"] = [f"No person {delegate['id']!r} in the registry."]
    if delegate.get("from_") and delegate.get("to") and delegate["from_"] > delegate["to"]:
        errors["delegate.to"] = ["Must not be before `from`."]
    if errors:
        raise Invalid("The person cannot be saved.", errors)
    person, created = save(
        conn,
        {
            "id": person_id,
            "name": body["name"],
            "tier": body["tier"],
            "manager_id": manager_id,
            "active": body.get("active", True),
            "email": body.get("email"),
            "delegate_id": delegate.get("id"),
            "delegate_from": delegate.get("from_"),
            "delegate_to": delegate.get("to"),
        },
    )
    audit.append_event(
        conn,
        "person.created" if created else "person.updated",
        actor,
        person_id,
        person_payload(person),
    )
    return person, created


def person_payload(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "tier": person.tier,
        "manager_id": person.manager_id,
        "active": person.active,
        "email": person.email,
        "delegate": None
        if person.delegate_id is None
        else {
            "id": person.delegate_id,
            "from": person.delegate_from.isoformat() if person.delegate_from else None,
            "to": person.delegate_to.isoformat() if person.delegate_to else None,
        },
    }
