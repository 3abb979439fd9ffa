"""The policy in force as people read it: the authority matrix (tiers x levers, ceilings as
they take effect, with where each was inherited from) and every rule in plain English."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import yaml

from api.policy.decimals import decimal_str
from api.policy.findings import tightened
from api.policy.model import Escalate, Lever, Policy, Routing, Rule


@dataclass(frozen=True, slots=True)
class Cell:
    value: str
    inherited_from: str | None
    """The tier whose ceiling this one takes (None when the policy names this tier), or
    "nobody" for a lowest tier left out (its ceiling is 0)."""


@dataclass(frozen=True, slots=True)
class RuleText:
    name: str
    when: str
    effects: list[str]
    because: str | None
    ladders: dict[str, tuple[str, ...]]
    """Per lever it caps, the effective ceiling of every tier while the rule applies."""


def named_tiers(policy: Policy) -> dict[str, frozenset[str]]:
    """Per lever, the tiers the policy file names in its ceilings (the rest are inherited)."""
    return _named(policy.sha256, policy.source)


@lru_cache(maxsize=16)
def _named(sha256: str, source: bytes) -> dict[str, frozenset[str]]:
    """Read once per policy version (its sha256): parsing the file is most of the page."""
    try:
        spec = yaml.safe_load(source)["spec"]["levers"]
        return {name: frozenset((spec[name] or {}).get("ceilings") or ()) for name in spec}
    except (yaml.YAMLError, KeyError, TypeError):
        return {}


def matrix(policy: Policy) -> list[tuple[str, list[Cell]]]:
    """One row per tier, lowest first, with a cell per lever."""
    named = named_tiers(policy)
    rows = []
    for rank, tier in enumerate(policy.tiers):
        cells = [_cell(policy, lever, rank, named.get(lever.name)) for lever in policy.levers]
        rows.append((tier, cells))
    return rows


def _cell(policy: Policy, lever: Lever, rank: int, named: frozenset[str] | None) -> Cell:
    value = lever.ceiling_texts[rank]
    if named is None or policy.tiers[rank] in named:
        return Cell(value, None)
    below = [t for t in policy.tiers[:rank] if t in named]
    return Cell(value, below[-1] if below else "nobody")


def rule_text(policy: Policy, rule: Rule) -> RuleText:
    effects = []
    if rule.require is not None:
        effects.append(f"needs approval from {rule.require} or above")
    for lever_name, ladder in rule.ceilings.items():
        pairs = zip(policy.tiers, ladder, strict=True)
        caps = [f"{t} {decimal_str(v)}" for t, v in pairs if v is not None]
        effects.append(f"caps {lever_name}: {', '.join(_first_of_each(caps))}")
    if rule.deny is not None:
        effects.append(f"denies the deal: {rule.deny.rstrip('.')}")
    if rule.flag is not None:
        effects.append(f"flags the request {rule.flag}")
    levers = {lever.name: lever for lever in policy.levers}
    ladders = {
        name: tuple(decimal_str(v) for v in tightened(levers[name], [rule]))
        for name in rule.ceilings
        if name in levers
    }
    return RuleText(rule.name, rule.when.source, effects, rule.because, ladders)


def _first_of_each(caps: list[str]) -> list[str]:
    """'account_manager 5, sales_manager 5, vp_sales 15, cfo 15' -> from each new value on:
    'account_manager 5, vp_sales 15' (a rule's ladder is inherited upwards like any other)."""
    shown: list[str] = []
    last = None
    for cap in caps:
        value = cap.rsplit(" ", 1)[1]
        if value != last:
            shown.append(cap)
            last = value
    return shown


def routing_text(policy: Policy, tier: str) -> str:
    if policy.routing_for(tier) is Routing.REGISTRY:
        return "the one active person holding this tier in the registry"
    return "the nearest active manager in the owner's chain at or above this tier"


def sla_text(policy: Policy) -> list[tuple[str, str]] | None:
    """The service level (DESIGN 14) as label -> plain-English lines; None without one."""
    sla = policy.sla
    if sla is None:
        return None
    share = f"{_hours(sla.remind_after * 100)}%"
    reminder = (
        f"to the approver at {share} of the time: after {_hours(sla.hours * sla.remind_after)} "
        f"hours ({_hours(sla.period_end_hours * sla.remind_after)} inside the window)"
    )
    return [
        ("Time to act on a step", f"{_hours(sla.hours)} hours from when it becomes current"),
        ("Inside a period-end window", f"{_hours(sla.period_end_hours)} hours"),
        ("Reminder", reminder),
        ("When a step is overdue", ESCALATION_TEXT[sla.escalate]),
    ]


ESCALATION_TEXT = {
    Escalate.NONE: "it waits for its approver (or their delegate): nothing moves it up",
    Escalate.MANAGER: (
        "the approver's nearest active manager at or above the step's tier may act on it "
        "too, and one manager higher after each further period, until the chain ends"
    ),
}


def _hours(value: Decimal) -> str:
    """A number of hours without trailing zeros: 24, 0.5, 0.0005."""
    return decimal_str(value.normalize())
