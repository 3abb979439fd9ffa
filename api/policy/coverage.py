"""Boundary coverage of a policy by its test cases.

Every ceiling step (lever, tier) must be exercised at the ceiling and just above it
(within one unit: 10 and 10.01, 30 days and 31), by a case in which no rule changed that
lever's ceilings; every rule must match in some case and not match in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from api.policy.cases import CaseResult
from api.policy.decimals import decimal_str
from api.policy.model import Policy

ONE_UNIT = Decimal(1)


@dataclass(frozen=True, slots=True)
class Item:
    kind: str  # "ceiling" or "rule"
    name: str
    missing: tuple[str, ...]

    @property
    def covered(self) -> bool:
        return not self.missing

    def __str__(self) -> str:
        mark = "ok  " if self.covered else "MISS"
        gaps = f"  (no case {' or '.join(self.missing)})" if self.missing else ""
        return f"{mark} {self.kind} {self.name}{gaps}"


def boundaries(policy: Policy) -> list[tuple[str, str, Decimal]]:
    """(lever, tier, ceiling) for each step of each lever's ladder: the tier where it rises."""
    steps = []
    for lever in policy.levers:
        for rank, ceiling in enumerate(lever.ceilings):
            if rank == 0 or ceiling != lever.ceilings[rank - 1]:
                steps.append((lever.name, policy.tiers[rank], ceiling))
    return steps


def coverage(policy: Policy, results: list[CaseResult]) -> list[Item]:
    mine = [r for r in results if r.decision.policy.sha256 == policy.sha256]
    values: dict[str, list[Decimal]] = {}
    for result in mine:
        tightened = {
            lever for rule in result.decision.rules for lever in _rule_levers(policy, rule.name)
        }
        for finding in result.decision.findings:
            if finding.value is not None and finding.lever not in tightened:
                values.setdefault(finding.lever, []).append(finding.value)
    items = []
    for lever, tier, ceiling in boundaries(policy):
        seen = values.get(lever, [])
        missing = []
        if ceiling not in seen:
            missing.append(f"at {decimal_str(ceiling)}")
        if not any(ceiling < v <= ceiling + ONE_UNIT for v in seen):
            missing.append(f"just above {decimal_str(ceiling)}")
        items.append(Item("ceiling", f"{lever} @ {tier} = {decimal_str(ceiling)}", tuple(missing)))
    for rule in policy.rules:
        matched = [any(m.name == rule.name for m in r.decision.rules) for r in mine]
        missing = [
            label
            for label, hit in (("matching", True), ("not matching", False))
            if hit not in matched
        ]
        items.append(Item("rule", rule.name, tuple(missing)))
    return items


def percent(items: list[Item]) -> Decimal:
    if not items:
        return Decimal(100)
    return (Decimal(sum(i.covered for i in items)) * 100 / len(items)).quantize(Decimal("0.1"))


def _rule_levers(policy: Policy, rule_name: str) -> set[str]:
    rule = next((r for r in policy.rules if r.name == rule_name), None)
    return set(rule.ceilings) if rule else set()
