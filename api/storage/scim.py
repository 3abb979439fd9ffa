"""SCIM's view of the people registry: userName, externalId, kept attributes, pending managers.

The person's own columns are written by storage/people.py (through service/people.py, with its
audit event); this module reads people as SCIM users and writes only the SCIM columns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from api.errors import Conflict
from api.storage.people import Person

# Statements are composed from constant fragments with psycopg.sql, never from values: every
# value is a bound parameter.
COLUMNS = sql.SQL("""
    id, name, tier, manager_id, active, email, delegate_id, delegate_from, delegate_to,
    created_at, updated_at, user_name, external_id, scim_deleted, manager_ref, scim_attrs
""")
GET = sql.SQL("SELECT {} FROM people WHERE id = %s").format(COLUMNS)
# A list filter on one field; `total` counts every match for ListResponse.totalResults.
MATCH = {
    "all": "true",
    "id": "id = %(value)s",
    "userName": "(lower(user_name) = lower(%(value)s)"
    " OR (user_name IS NULL AND id = lower(%(value)s)))",
    "externalId": "external_id = %(value)s",
    "email": "lower(email) = lower(%(value)s)",
}
FIND = {
    field: sql.SQL("""
SELECT {}, count(*) OVER () AS total FROM people WHERE NOT scim_deleted AND {}
ORDER BY id OFFSET %(offset)s LIMIT %(limit)s
""").format(COLUMNS, sql.SQL(where))
    for field, where in MATCH.items()
}
# The person a POST names: by externalId, else primary email, else its id (the userName).
LINK_TARGET = sql.SQL("""
SELECT {} FROM people
WHERE external_id = %(external_id)s OR lower(email) = lower(%(email)s) OR id = %(id)s
ORDER BY CASE WHEN external_id = %(external_id)s THEN 1
              WHEN lower(email) = lower(%(email)s) THEN 2 ELSE 3 END, id
LIMIT 1
""").format(COLUMNS)
# COALESCE stops at the first hit: the later lookups (each an index scan) run only if needed.
# array_agg rather than min(id), which the planner turns into a walk of the primary key.
RESOLVE = """
SELECT coalesce(
    (SELECT id FROM people WHERE id = %(ref)s),
    (SELECT (array_agg(id ORDER BY id))[1] FROM people WHERE external_id = %(ref)s),
    (SELECT id FROM people WHERE lower(user_name) = lower(%(ref)s) AND user_name IS NOT NULL
        AND NOT scim_deleted),
    (SELECT (array_agg(id ORDER BY id))[1] FROM people
        WHERE lower(email) = lower(%(ref)s) AND email IS NOT NULL)
)
"""
HIDE = "UPDATE people SET scim_deleted = true WHERE id = %s"
PENDING = """
SELECT id FROM people
WHERE lower(manager_ref) = ANY(%s) AND manager_ref IS NOT NULL AND manager_id IS NULL
ORDER BY id
"""
CLEAR_REF = "UPDATE people SET manager_ref = NULL WHERE id = %s"
# storage/people.py's UPSERT, writing the SCIM columns too: one statement, so the registry
# generation's row lock (taken by the first write to people) is held for one round trip less.
UPSERT = """
INSERT INTO people (id, name, tier, manager_id, active, email, delegate_id, delegate_from,
                    delegate_to, user_name, external_id, scim_attrs, manager_ref, scim_deleted)
VALUES (%(id)s, %(name)s, %(tier)s, %(manager_id)s, %(active)s, %(email)s, %(delegate_id)s,
        %(delegate_from)s, %(delegate_to)s, %(user_name)s, %(external_id)s, %(attrs)s,
        %(manager_ref)s, false)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, tier = EXCLUDED.tier, manager_id = EXCLUDED.manager_id,
    active = EXCLUDED.active, email = EXCLUDED.email, delegate_id = EXCLUDED.delegate_id,
    delegate_from = EXCLUDED.delegate_from, delegate_to = EXCLUDED.delegate_to,
    user_name = EXCLUDED.user_name, external_id = EXCLUDED.external_id,
    scim_attrs = EXCLUDED.scim_attrs, manager_ref = EXCLUDED.manager_ref, scim_deleted = false,
    updated_at = now()
RETURNING
    id, name, tier, manager_id, active, email, delegate_id, delegate_from, delegate_to,
    created_at, updated_at, (xmax = 0) AS created
"""


@dataclass(frozen=True, slots=True)
class ScimRow(Person):
    """A person (storage/people.py's columns) with the SCIM columns after them."""

    user_name: str | None
    external_id: str | None
    scim_deleted: bool
    manager_ref: str | None
    scim_attrs: dict[str, Any]
    total: int = 0

    @property
    def provisioned(self) -> bool:
        """A live SCIM user: another POST may not claim it."""
        return self.user_name is not None and not self.scim_deleted


def get_user(conn: psycopg.Connection, person_id: str) -> ScimRow | None:
    with conn.cursor(row_factory=class_row(ScimRow)) as cur:
        return cur.execute(GET, (person_id,)).fetchone()


def find_users(
    conn: psycopg.Connection, field: str, value: str, offset: int, limit: int
) -> tuple[list[ScimRow], int]:
    """One page of matches and the number of all matches; field 'all' lists everyone."""
    params = {"field": field, "value": value, "offset": offset, "limit": limit}
    with conn.cursor(row_factory=class_row(ScimRow)) as cur:
        rows = cur.execute(FIND[field], params).fetchall()
        if rows:
            return rows, rows[0].total
        if offset == 0 and limit > 0:
            return [], 0
        # past the end (or count=0): the window function saw no row to count on
        probe = cur.execute(FIND[field], {**params, "offset": 0, "limit": 1}).fetchone()
    return [], probe.total if probe else 0


def link_target(
    conn: psycopg.Connection, external_id: str | None, email: str | None, person_id: str
) -> ScimRow | None:
    """The person a POST names by externalId, else primary email, else id, if any."""
    with conn.cursor(row_factory=class_row(ScimRow)) as cur:
        params = {"external_id": external_id, "email": email, "id": person_id}
        return cur.execute(LINK_TARGET, params).fetchone()


def resolve_ref(conn: psycopg.Connection, ref: str) -> str | None:
    """A manager reference as a person id: id, then externalId, then userName, then email."""
    row = conn.execute(RESOLVE, {"ref": ref}).fetchone()
    return None if row is None or row[0] is None else str(row[0])


@dataclass(frozen=True, slots=True)
class ScimFields:
    """The SCIM columns of a provisioned (live) person."""

    user_name: str
    external_id: str | None
    attrs: dict[str, Any]
    manager_ref: str | None

    def row(self, person: Person) -> ScimRow:
        return ScimRow(
            **{f.name: getattr(person, f.name) for f in fields(Person)},
            user_name=self.user_name,
            external_id=self.external_id,
            scim_deleted=False,
            manager_ref=self.manager_ref,
            scim_attrs=self.attrs,
        )


def upsert_scim_person(
    conn: psycopg.Connection, fields: dict[str, Any], scim: ScimFields
) -> tuple[Person, bool]:
    """upsert_person with the SCIM columns; a userName another person holds is a Conflict."""
    params = {
        **fields,
        "user_name": scim.user_name,
        "external_id": scim.external_id,
        "attrs": Jsonb(scim.attrs),
        "manager_ref": scim.manager_ref,
    }
    try:
        row = conn.execute(UPSERT, params).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"Another person already has the userName {scim.user_name!r}.") from None
    assert row is not None
    return Person(*row[:-1]), bool(row[-1])


def hide_user(conn: psycopg.Connection, person_id: str) -> None:
    """A SCIM DELETE: the resource is gone (404) while the person stays, for history."""
    conn.execute(HIDE, (person_id,))


def waiting_for(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """People whose manager reference names one of `names` (lowercased) and is unlinked."""
    return [str(r[0]) for r in conn.execute(PENDING, ([n.lower() for n in names],)).fetchall()]


def clear_manager_ref(conn: psycopg.Connection, person_id: str) -> None:
    conn.execute(CLEAR_REF, (person_id,))
