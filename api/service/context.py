"""The caller's context every request, override and history function takes besides its body.

Its own module so that the services using it (requests, overrides, history) import it from
here rather than from one another."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from api.policy.model import Policy


@dataclass(frozen=True, slots=True)
class Context:
    """What every action needs besides its body: policy, dates, and who is calling."""

    policy: Policy
    today: date
    now: datetime
    actor_key: str
    may_override: bool
    shadows: tuple[Policy, ...] = ()
    person_id: str | None = None
    """The person a people-bound key acts as; None for an unbound key (CPQ systems)."""
