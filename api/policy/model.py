"""The policy model: tiers, levers with their ceiling ladders, and rules. Built by the loader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any, NamedTuple

from api.policy.conditions import Expression
from api.policy.decimals import decimal_str


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


class Escalate(StrEnum):
    NONE = "none"
    MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class Sla:
    """`spec.sla`: how soon a step should be acted on, and what happens when it is not."""

    hours: Decimal
    period_end_hours: Decimal
    remind_after: Decimal
    """The share of the time at which the approver is reminded (0 < x < 1)."""
    escalate: Escalate = Escalate.NONE


class PolicyStatus(StrEnum):
    ACTIVE = "active"
    SHADOW = "shadow"


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """Which policy decided: name, human version and the sha256 of its file."""

    name: str
    version: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


class MatchedRule(NamedTuple):
    """A rule as a decision shows it when it matched."""

    name: str
    effects: tuple[str, ...]
    because: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "effects": list(self.effects), "because": self.because}


def within_tail(tier: str, ceiling: str) -> str:
    """The end of a finding's reason for a value within `tier`'s ceiling."""
    return f" is within {tier}'s ceiling of {ceiling}."


def above_tail(tier: str, ceiling: str, needed_tier: str, needed: str) -> str:
    """The end of a finding's reason for a value above `tier`'s ceiling."""
    return f" is above {tier}'s ceiling of {ceiling} and within {needed_tier}'s {needed}."


class ReasonTails(NamedTuple):
    """A lever's finding sentences for its own ladder, by requester rank (and required rank),
    written once per policy version; a decision prefixes the value."""

    within: tuple[str, ...]
    above: tuple[tuple[str, ...], ...]


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
    ceiling_texts: tuple[str, ...] = field(init=False)
    """The ceilings as the API writes them, rendered once rather than per decision."""
    inputs: tuple[tuple[str, ...], ...] = field(init=False)
    """The deal paths a computed lever reads, nested ones included, sorted (empty for a
    deal-field lever): `deal.attributes.credit` is ("attributes", "credit")."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ceiling_texts", tuple(decimal_str(c) for c in self.ceilings))
        inputs = self.compute.deal_paths if self.compute is not None else ()
        object.__setattr__(self, "inputs", inputs)

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
    effects: tuple[str, ...] = field(init=False)
    shown: MatchedRule = field(init=False)
    """How a decision lists this rule when it matches; built once."""

    def __post_init__(self) -> None:
        present = (
            ("require", self.require is not None),
            ("ceilings", bool(self.ceilings)),
            ("deny", self.deny is not None),
            ("flag", self.flag is not None),
        )
        effects = tuple(name for name, on in present if on)
        object.__setattr__(self, "effects", effects)
        object.__setattr__(
            self, "shown", MatchedRule(self.name, effects, self.because or self.deny)
        )


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
    customer_no_days: int = 90
    """How long after a customer's no a resubmission of the deal is flagged (DESIGN 9)."""
    sla: Sla | None = None
    """`spec.sla` (DESIGN 14); None means nothing is timed."""

    def rank(self, tier: str) -> int:
        """0-based position of a tier; KeyError for a tier the policy does not know."""
        return self.ranks[tier]

    def routing_for(self, tier: str) -> Routing:
        return self.routing.get(tier, Routing.CHAIN)

    @property
    def deal_levers(self) -> tuple[Lever, ...]:
        """Levers that read a deal field of their own name (not computed)."""
        return tuple(lever for lever in self.levers if not lever.is_computed)

    @cached_property
    def ref(self) -> PolicyRef:
        return PolicyRef(self.name, self.version, self.sha256)

    @cached_property
    def reason_tails(self) -> Mapping[str, ReasonTails]:
        """Per lever, the finding sentences for its untightened ladder (see ReasonTails)."""
        tails = {}
        for lever in self.levers:
            texts = lever.ceiling_texts
            within = tuple(within_tail(t, texts[r]) for r, t in enumerate(self.tiers))
            above = tuple(
                tuple(
                    above_tail(tier, texts[rank], needed, texts[required])
                    for required, needed in enumerate(self.tiers)
                )
                for rank, tier in enumerate(self.tiers)
            )
            tails[lever.name] = ReasonTails(within, above)
        return tails

    @cached_property
    def lever_names(self) -> frozenset[str]:
        return frozenset(lever.name for lever in self.deal_levers)

    @property
    def expressions(self) -> tuple[Expression, ...]:
        computed = tuple(lever.compute for lever in self.levers if lever.compute is not None)
        return computed + tuple(rule.when for rule in self.rules)

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


def monotonic(values: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    """Authority never decreases going up: each tier gets the largest ceiling at or below it."""
    result: list[Decimal] = []
    for value in values:
        result.append(max(value, result[-1]) if result else value)
    return tuple(result)
