"""SCIM provisioning of the registry (DESIGN 13): each change is put_person's audit event.

A POST creates a person (id = userName, lowercased) or links to the one its externalId or
primary email names; PUT and PATCH replace; DELETE deactivates and hides the resource. Tier,
manager and active are kept when a body leaves them out; a manager not yet provisioned is
remembered and linked when they arrive; a cycle is refused and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import psycopg

from api.errors import Conflict, Invalid
from api.identity.scim_error import ScimError, invalid_value
from api.identity.scim_patch import apply_patch
from api.identity.scim_user import Stored, UserIn, person_name, read_user, render
from api.policy.decision import iso_utc
from api.policy.model import Policy
from api.service.people import Save, put_person
from api.storage import scim as store
from api.storage.people import Person, manager_chain, upsert_person
from api.storage.scim import ScimRow


def create_user(conn: psycopg.Connection, policy: Policy, user: UserIn, actor: str) -> ScimRow:
    """201 either way: a new person, or the existing one the body names."""
    target = store.link_target(conn, user.external_id, user.email, user.user_name.lower())
    if target is not None and target.provisioned:
        raise ScimError(
            409, f"{target.id!r} is already provisioned as {target.user_name!r}.", "uniqueness"
        )
    person_id = target.id if target is not None else user.user_name.lower()
    return _save(conn, policy, person_id, user, target, actor, default_active=True)


def replace_user(
    conn: psycopg.Connection,
    policy: Policy,
    person_id: str,
    body: Callable[[], Mapping[str, Any]],
    actor: str,
) -> ScimRow:
    """`body` is read only once the user is known to exist: 404 answers before 400."""
    current = live_user(conn, person_id)
    return _save(conn, policy, person_id, read_user(body()), current, actor)


def patch_user(
    conn: psycopg.Connection,
    policy: Policy,
    person_id: str,
    body: Callable[[], Mapping[str, Any]],
    actor: str,
) -> ScimRow:
    current = live_user(conn, person_id)
    patched = apply_patch(render(stored(current), ""), body())
    return _save(conn, policy, person_id, read_user(patched), current, actor)


def delete_user(conn: psycopg.Connection, policy: Policy, person_id: str, actor: str) -> None:
    """Deactivate and hide: the person stays in the registry, inactive, for history."""
    current = live_user(conn, person_id)
    _put(conn, policy, current, actor, active=False)
    store.hide_user(conn, person_id)


def live_user(conn: psycopg.Connection, person_id: str) -> ScimRow:
    row = store.get_user(conn, person_id)
    if row is None or row.scim_deleted:
        raise ScimError(404, f"No User {person_id!r}.")
    return row


def stored(row: ScimRow) -> Stored:
    return Stored(
        id=row.id,
        user_name=row.user_name,
        external_id=row.external_id,
        name=row.name,
        email=row.email,
        active=row.active,
        tier=row.tier,
        manager_id=row.manager_id,
        manager_ref=row.manager_ref if row.manager_id is None else None,
        attrs=row.scim_attrs,
        created=iso_utc(row.created_at),
        modified=iso_utc(row.updated_at),
    )


def _save(
    conn: psycopg.Connection,
    policy: Policy,
    person_id: str,
    user: UserIn,
    current: ScimRow | None,
    actor: str,
    *,
    default_active: bool | None = None,
) -> ScimRow:
    if user.tier is not None and user.tier not in policy.ranks:
        raise invalid_value(
            f"`tier` {user.tier!r} is not a tier of the active policy: {', '.join(policy.tiers)}."
        )
    manager_id, manager_ref = _manager(conn, user, current)
    active = user.active if user.active is not None else default_active
    scim = store.ScimFields(user.user_name, user.external_id, user.attrs(), manager_ref)
    person = _put(
        conn,
        policy,
        current,
        actor,
        save=partial(_upsert, scim=scim),
        person_id=person_id,
        name=person_name(user.name, user.display_name, user.user_name),
        email=user.email,
        tier=user.tier,
        manager_id=manager_id,
        active=active,
    )
    # From here the registry generation's row lock is held (the write above took it), so
    # these reads see every change committed before ours: of two users naming each other
    # at once, the second to commit links both.
    if manager_id is not None and (current is None or current.manager_id != manager_id):
        _refuse_cycle(conn, person_id, manager_id)
    late = store.resolve_ref(conn, manager_ref) if manager_ref is not None else None
    reports = _waiting(conn, person_id, user, current)
    if late is None and not reports:
        return scim.row(person)
    if late is not None:
        _put(conn, policy, scim.row(person), actor, manager_id=late)
        store.clear_manager_ref(conn, person_id)
    _link_reports(conn, policy, person_id, reports, actor)
    return live_user(conn, person_id)


def _refuse_cycle(conn: psycopg.Connection, person_id: str, manager_id: str) -> None:
    """put_person checked the chain before the lock; a change committed since (the same
    pair named the other way round, at once) shows now. Raising rolls back everything."""
    if any(p.id == person_id for p in manager_chain(conn, person_id)):
        raise invalid_value(f"{manager_id!r} reports to {person_id!r}: that would make a cycle.")


def _upsert(
    conn: psycopg.Connection, fields: dict[str, Any], scim: store.ScimFields
) -> tuple[Person, bool]:
    try:
        return store.upsert_scim_person(conn, fields, scim)
    except Conflict as exc:
        raise ScimError(409, exc.detail, "uniqueness") from None


def _manager(
    conn: psycopg.Connection, user: UserIn, current: ScimRow | None
) -> tuple[str | None, str | None]:
    """(manager_id, pending reference): kept when not sent, resolved when named."""
    if not user.manager_sent:
        return (current.manager_id, current.manager_ref) if current else (None, None)
    if user.manager is None:
        return None, None
    found = store.resolve_ref(conn, user.manager)
    return (found, None) if found is not None else (None, user.manager)


def _waiting(
    conn: psycopg.Connection, person_id: str, user: UserIn, current: ScimRow | None
) -> list[str]:
    """Who waits for this person as manager: asked only when a name they go by is new."""
    names = {n.lower() for n in (person_id, user.external_id, user.user_name, user.email) if n}
    if current is not None and current.provisioned:
        known = (current.id, current.external_id, current.user_name, current.email)
        names -= {n.lower() for n in known if n}
    if not names:
        return []
    return [r for r in store.waiting_for(conn, sorted(names)) if r != person_id]


def _link_reports(
    conn: psycopg.Connection, policy: Policy, person_id: str, reports: list[str], actor: str
) -> None:
    """People who named this person as manager before they arrived now report to them."""
    for report_id in reports:
        report = store.get_user(conn, report_id)
        assert report is not None
        _put(conn, policy, report, actor, manager_id=person_id)
        store.clear_manager_ref(conn, report_id)


def _put(
    conn: psycopg.Connection,
    policy: Policy,
    current: ScimRow | None,
    actor: str,
    save: Save = upsert_person,
    **changes: Any,
) -> Person:
    """put_person with the current values for what `changes` leaves out (or None)."""
    person_id = changes.pop("person_id", None) or (current.id if current else "")
    base: dict[str, Any] = {
        "name": current.name if current else None,
        "tier": current.tier if current else policy.tiers[0],
        "manager_id": current.manager_id if current else None,
        "active": current.active if current else True,
        "email": current.email if current else None,
        "delegate": _delegate(current),
    }
    body = {**base, **{k: v for k, v in changes.items() if k in base}}
    for key in ("tier", "active"):
        if body[key] is None:
            body[key] = base[key]
    try:
        return put_person(conn, policy, person_id, body, actor, save)[0]
    except Invalid as exc:
        messages = [m for texts in exc.errors.values() for m in texts]
        raise invalid_value(" ".join(messages) or exc.detail) from None


def _delegate(current: ScimRow | None) -> dict[str, Any] | None:
    if current is None or current.delegate_id is None:
        return None
    return {"id": current.delegate_id, "from_": current.delegate_from, "to": current.delegate_to}
