"""The policy model: tiers, levers with their ceiling ladders, and rules. Built by the loader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from api.policy.conditions import Activations, Expression


class Outcome(StrEnum):
    APPROVED = "approved"
    NEEDS_APPROVAL = "needs_approval"
    DENIED = "denied"


class Status(StrEnum):
    WITHIN = "within"
    NEEDS_APPROVAL = "needs_approval"
    BEYOND_AUTHORITY = "beyond_authority"
    BEYOND_ABSOLUTE_MAX = "beyond_absolute_max"
    NOT_REQUESTED = "not_requested"


class ApprovalMode(StrEnum):
    REQUIRED_TIER = "required_tier"
    EVERY_TIER = "every_tier"


class Routing(StrEnum):
    CHAIN = "chain"
    REGISTRY = "registry"


class PolicyStatus(StrEnum):
    ACTIVE = "active"
    SHADOW = "shadow"


Ladder = tuple[Decimal | None, ...]
"""One value per tier, lowest tier first; None means "this ladder does not touch the tier"."""


@dataclass(frozen=True, slots=True)
class Lever:
    name: str
    title: str
    ceilings: tuple[Decimal, ...]
    """Effective ceiling per tier, lowest first: inherited upwards and never decreasing."""
    absolute_max: Decimal | None = None
    compute: Expression | None = None

    @property
    def is_computed(self) -> bool:
        return self.compute is not None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: Expression
    because: str | None = None
    require: str | None = None
    ceilings: Mapping[str, Ladder] = field(default_factory=dict)
    deny: str | None = None
    flag: str | None = None

    @property
    def effects(self) -> tuple[str, ...]:
        present = (
            ("require", self.require is not None),
            ("ceilings", bool(self.ceilings)),
            ("deny", self.deny is not None),
            ("flag", self.flag is not None),
        )
        return tuple(name for name, on in present if on)


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    status: PolicyStatus
    sha256: str
    file: str
    source: bytes
    currency: str
    fiscal_year_start: tuple[int, int]
    period_end_days: int
    tiers: tuple[str, ...]
    approval: ApprovalMode
    routing: Mapping[str, Routing]
    override_min_tier: str | None
    levers: tuple[Lever, ...]
    rules: tuple[Rule, ...]
    owner: str | None = None
    ranks: Mapping[str, int] = field(default_factory=dict)

    def rank(self, tier: str) -> int:
        """0-based position of a tier; KeyError for a tier the policy does not know."""
        return self.ranks[tier]

    def routing_for(self, tier: str) -> Routing:
        return self.routing.get(tier, Routing.CHAIN)

    @property
    def deal_levers(self) -> tuple[Lever, ...]:
        """Levers that read a deal field of their own name (not computed)."""
        return tuple(lever for lever in self.levers if not lever.is_computed)

    @property
    def lever_names(self) -> frozenset[str]:
        return frozenset(lever.name for lever in self.deal_levers)

    @property
    def expressions(self) -> tuple[Expression, ...]:
        computed = tuple(lever.compute for lever in self.levers if lever.compute is not None)
        return computed + tuple(rule.when for rule in self.rules)

    @cached_property
    def activations(self) -> Activations:
        """Per-thread CEL contexts for this policy version."""
        return Activations()

    @cached_property
    def cel_variables(self) -> frozenset[str]:
        """Top-level variables any expression of this policy reads."""
        return frozenset(name for e in self.expressions for name in e.variables)

    @cached_property
    def cel_deal_fields(self) -> frozenset[str] | None:
        """Deal fields the expressions read, or None when one reads `deal` as a whole."""
        if any(e.reads_whole_deal for e in self.expressions):
            return None
        return frozenset(f for e in self.expressions for f in e.deal_fields)
