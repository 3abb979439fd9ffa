"""The demo org `make run` seeds on first run: an AM, their chain to the top, one outsider."""

from __future__ import annotations

import psycopg

from api.policy.model import Policy
from api.service.people import put_person
from api.storage.people import list_people


def demo_people(policy: Policy) -> list[tuple[str, dict[str, object]]]:
    """A chain demo.<tier> for every tier, lowest reporting upwards, plus an executive outside it.

    A tier routed `registry` (a CFO) sits beside the chain, reporting to the top tier.
    """
    top = policy.tiers[-1]
    chain = [
        t for t in policy.tiers if policy.routing_for(t) == "chain" or t in (top, policy.tiers[0])
    ]
    people: list[tuple[str, dict[str, object]]] = []
    for tier in reversed(policy.tiers):
        above: str | None = top
        if tier == top:
            above = None
        elif tier in chain:
            above = chain[chain.index(tier) + 1]
        people.append(
            (
                f"demo.{tier}",
                {
                    "name": f"Demo {tier.replace('_', ' ').title()}",
                    "tier": tier,
                    "manager_id": f"demo.{above}" if above else None,
                },
            )
        )
    outside_tier = policy.override_min_tier or top
    people.append(
        (
            f"demo.{outside_tier}.outside",
            {
                "name": f"Demo {outside_tier.replace('_', ' ').title()} (other region)",
                "tier": outside_tier,
                "manager_id": None if outside_tier == top else f"demo.{top}",
            },
        )
    )
    return people


def seed_demo(conn: psycopg.Connection, policy: Policy) -> bool:
    """Seed once: nothing happens when the registry already holds anyone."""
    if list_people(conn, "", 1):
        return False
    for person_id, body in demo_people(policy):
        put_person(conn, policy, person_id, body, "system:demo-seed")
    return True
