"""Who is involved in a deal: the owner, the requester, and the owner's active delegate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import psycopg

from api.errors import Forbidden, Invalid
from api.policy.decision import Party
from api.policy.model import Policy
from api.storage.people import Person, get_people


@dataclass(frozen=True, slots=True)
class Parties:
    owner: Person
    requester: Person
    owner_delegate_id: str | None

    @property
    def acting_for_owner(self) -> bool:
        """The requester is the owner, or the owner's active delegate today."""
        return self.requester.id in (self.owner.id, self.owner_delegate_id)

    def owner_party(self) -> Party:
        return Party(self.owner.id, self.owner.tier)

    def requester_party(self) -> Party:
        return Party(self.requester.id, self.requester.tier)


People = Callable[[list[str]], Mapping[str, Person]]
"""Where people come from: the database (`in_database`) or a registry snapshot."""


def in_database(conn: psycopg.Connection) -> People:
    return lambda ids: get_people(conn, ids)


def resolve_parties(
    people_of: People,
    policy: Policy,
    owner_id: str,
    requester_id: str,
    today: date,
    *,
    owner_field: str = "deal.owner_id",
    requester_field: str = "requested_by",
) -> Parties:
    """Load owner and requester; 422 naming the field when either is unknown or has no tier."""
    people = people_of([owner_id, requester_id])
    errors: dict[str, list[str]] = {}
    for field_name, person_id in ((owner_field, owner_id), (requester_field, requester_id)):
        person = people.get(person_id)
        if person is None:
            errors.setdefault(field_name, []).append(f"No person {person_id!r} in the registry.")
        elif person.tier not in policy.ranks:
            errors.setdefault(field_name, []).append(
                f"{person_id!r} holds tier {person.tier!r}, unknown to the active policy."
            )
    if errors:
        raise Invalid("The deal names people the registry cannot use.", errors)
    owner = people[owner_id]
    delegate_id = owner.delegate_on(today)
    if delegate_id is not None:
        delegate = people_of([delegate_id]).get(delegate_id)
        if delegate is None or not delegate.active:
            delegate_id = None
    return Parties(owner, people[requester_id], delegate_id)


def check_acting_as(bound_to: str | None, person_id: str, field: str) -> None:
    """A people-bound key acts only as its person (403); an unbound key acts for anyone."""
    if bound_to is not None and person_id != bound_to:
        raise Forbidden(
            f"This API key is bound to {bound_to!r}; it cannot act as {person_id!r}.",
            {field: [f"Must be {bound_to!r}, the person this API key is bound to."]},
        )
