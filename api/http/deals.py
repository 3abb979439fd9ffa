"""Loading a deal: the static schema plus the numeric fields the active policy names as levers."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from api.http.body import invalid
from api.http.fields import load_number
from api.http.schemas import DealIn
from api.policy.model import Policy

DECLARED = frozenset(DealIn().fields)


def with_levers(deal: dict[str, Any], policy: Policy, prefix: str = "deal") -> dict[str, Any]:
    """Accept an unknown top-level field only when it is a lever of the policy (and a number)."""
    errors: dict[str, list[str]] = {}
    for key in [k for k in deal if k not in DECLARED]:
        path = f"{prefix}.{key}"
        if key not in policy.lever_names:
            errors[path] = ["Unknown field."]
            continue
        try:
            deal[key] = load_number(deal[key])
        except ValidationError as exc:
            errors[path] = list(exc.messages) if isinstance(exc.messages, list) else [str(exc)]
    if errors:
        raise invalid(errors)
    return deal
