"""Who approves each step: the owner's chain by default, the registry for functional tiers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.policy.model import ApprovalMode, Policy, Routing
from api.workflow.states import Step


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person as routing sees them."""

    id: str
    tier: str
    active: bool


def step_tiers(policy: Policy, required_tiers: Sequence[str], requester_tier: str) -> list[str]:
    """`required_tier`: one step per required tier. `every_tier`: every tier above the
    requester up to the highest required one."""
    if not required_tiers:
        return []
    if policy.approval is ApprovalMode.REQUIRED_TIER:
        return list(required_tiers)
    low, high = policy.rank(requester_tier), max(policy.rank(t) for t in required_tiers)
    return [tier for tier in policy.tiers if low < policy.rank(tier) <= high]


def assign(
    policy: Policy,
    tiers: Sequence[str],
    chain: Sequence[Candidate],
    registry: Mapping[str, Sequence[Candidate]],
    owner_id: str,
) -> list[Step]:
    """A pending step per tier, each with its approver, or with no approver and the reason."""
    return [_assign_one(policy, tier, chain, registry, owner_id) for tier in tiers]


def _assign_one(
    policy: Policy,
    tier: str,
    chain: Sequence[Candidate],
    registry: Mapping[str, Sequence[Candidate]],
    owner_id: str,
) -> Step:
    if policy.routing_for(tier) is Routing.REGISTRY:
        holders = [c for c in registry.get(tier, ()) if c.active]
        if len(holders) == 1:
            return Step(tier, holders[0].id)
        if not holders:
            return Step(tier, None, stuck_reason=f"no active person holds tier {tier}")
        names = ", ".join(sorted(c.id for c in holders))
        return Step(
            tier, None, stuck_reason=f"{len(holders)} active people hold tier {tier}: {names}"
        )
    wanted = policy.rank(tier)
    for manager in chain:
        if manager.active and manager.tier in policy.ranks and policy.rank(manager.tier) >= wanted:
            return Step(tier, manager.id)
    return Step(
        tier, None, stuck_reason=f"no active manager at or above {tier} in {owner_id}'s chain"
    )
