"""Override classification and its cost: which categories apply, and the excess in lever
units and in money. Pure: the caller supplies the assessment made with the executive as
requester, what the owner asked for, and where the executive sits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from api.policy.decimals import EXACT, decimal_str
from api.policy.engine import Assessment
from api.policy.model import Policy, Status

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class Category(StrEnum):
    BEYOND_POLICY = "beyond_policy"
    BEYOND_EXECUTIVE_AUTHORITY = "beyond_executive_authority"
    BYPASSED_OWNER = "bypassed_owner"
    OUT_OF_CHAIN = "out_of_chain"


REASON_CODES = (
    "strategic_account",
    "competitive_displacement",
    "customer_retention",
    "period_end_commit",
    "pricing_error",
    "other",
)


@dataclass(frozen=True, slots=True)
class Excess:
    lever: str
    value: Decimal
    approvable_max: Decimal
    excess: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            "lever": self.lever,
            "value": decimal_str(self.value),
            "approvable_max": decimal_str(self.approvable_max),
            "excess": decimal_str(self.excess),
        }


def lever_terms(policy: Policy, deal: Mapping[str, Any]) -> dict[str, Decimal | None]:
    """Every deal-field lever of the policy with the deal's value (None where it has none)."""
    return {lever.name: deal.get(lever.name) for lever in policy.deal_levers}


def excesses(policy: Policy, assessment: Assessment, executive_tier: str) -> list[Excess]:
    """Levers whose value is above the executive's own effective ceiling (rules applied)."""
    rank = policy.rank(executive_tier)
    result = []
    for lever in policy.levers:
        value = assessment.values.get(lever.name)
        if value is None:
            continue
        ceiling = assessment.ceilings[lever.name][rank]
        if value > ceiling:
            result.append(Excess(lever.name, value, ceiling, EXACT.subtract(value, ceiling)))
    return result


def excess_value(policy: Policy, found: list[Excess], list_amount: Decimal) -> Decimal:
    """Money given beyond authority: percentage deal-field levers only, half up to cents."""
    deal_fields = {lever.name for lever in policy.deal_levers}
    total = Decimal(0)
    for e in found:
        if e.lever in deal_fields and e.lever.endswith("_pct"):
            total = EXACT.add(total, EXACT.multiply(EXACT.divide(e.excess, HUNDRED), list_amount))
    return total.quantize(CENT, rounding=ROUND_HALF_UP, context=EXACT)


def categorize(
    assessment: Assessment,
    found: list[Excess],
    *,
    asked: Mapping[str, Decimal | None] | None,
    granted: Mapping[str, Decimal | None],
    in_chain: bool,
    is_approver: bool,
) -> list[Category]:
    """The categories an override falls in (sorted); empty means it is really an approval."""
    decision = assessment.decision
    categories = set()
    denied_by_rule = any("deny" in rule.effects for rule in decision.rules)
    if denied_by_rule or any(f.status is Status.BEYOND_AUTHORITY for f in decision.findings):
        categories.add(Category.BEYOND_POLICY)
    if found or decision.required_tiers:
        categories.add(Category.BEYOND_EXECUTIVE_AUTHORITY)
    if asked is None or any(_differs(asked.get(k), v) for k, v in granted.items()):
        categories.add(Category.BYPASSED_OWNER)
    if not (in_chain or is_approver):
        categories.add(Category.OUT_OF_CHAIN)
    return sorted(categories)


def _differs(before: Decimal | None, after: Decimal | None) -> bool:
    if before is None or after is None:
        return before is not after
    return before != after
