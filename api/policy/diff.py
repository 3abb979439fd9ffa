"""A plain-English summary of what changed between two versions of a policy, loosenings first.

Stable and deterministic, so it can be pasted into a pull request for finance to sign off.
"""

from __future__ import annotations

import re
from decimal import Decimal

from api.policy.decimals import decimal_str
from api.policy.model import Ladder, Policy, Rule

LOOSENED, TIGHTENED, CHANGED = "loosened", "tightened", "changed"
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def diff(old: Policy, new: Policy) -> list[str]:
    """Lines like 'sales_director: discount_pct ceiling 15 -> 20 (loosened)'; loosenings first."""
    entries: list[tuple[str, str]] = []
    entries += _tiers(old, new)
    entries += _settings(old, new)
    entries += _sla(old, new)
    entries += _levers(old, new)
    entries += _rules(old, new)
    order = {LOOSENED: 0, TIGHTENED: 1, CHANGED: 2}
    return [f"{text} ({kind})" for kind, text in sorted(entries, key=lambda e: order[e[0]])]


def _tiers(old: Policy, new: Policy) -> list[tuple[str, str]]:
    entries = [(CHANGED, f"tier {t} added") for t in new.tiers if t not in old.tiers]
    entries += [(CHANGED, f"tier {t} removed") for t in old.tiers if t not in new.tiers]
    common_old = [t for t in old.tiers if t in new.tiers]
    common_new = [t for t in new.tiers if t in old.tiers]
    if common_old != common_new:
        entries.append(
            (CHANGED, f"tiers reordered: {', '.join(old.tiers)} → {', '.join(new.tiers)}")
        )
    return entries


def _settings(old: Policy, new: Policy) -> list[tuple[str, str]]:
    entries = []
    pairs = [
        ("currency", old.currency, new.currency),
        ("approval mode", old.approval.value, new.approval.value),
        (
            "fiscal year start",
            _month_day(old.fiscal_year_start),
            _month_day(new.fiscal_year_start),
        ),
        ("period-end window (days)", str(old.period_end_days), str(new.period_end_days)),
        (
            "customer's-no window (days)",
            str(old.customer_no_days),
            str(new.customer_no_days),
        ),
    ]
    entries += [(CHANGED, f"{what}: {a} → {b}") for what, a, b in pairs if a != b]
    if old.override_min_tier != new.override_min_tier:
        kind = CHANGED
        if old.override_min_tier in new.ranks and new.override_min_tier in new.ranks:
            lower = new.rank(new.override_min_tier or "") < new.rank(old.override_min_tier or "")
            kind = LOOSENED if lower else TIGHTENED
        entries.append(
            (kind, f"overrides.min_tier: {old.override_min_tier} → {new.override_min_tier}")
        )
    for tier in sorted(set(old.routing) | set(new.routing) | set(new.tiers)):
        a, b = old.routing_for(tier).value, new.routing_for(tier).value
        if a != b and tier in old.tiers and tier in new.tiers:
            entries.append((CHANGED, f"{tier}: routing {a} → {b}"))
    return entries


def _sla(old: Policy, new: Policy) -> list[tuple[str, str]]:
    """Longer times or no escalation loosen (a stalled step waits longer); shorter tighten."""
    a, b = old.sla, new.sla
    if a is None and b is None:
        return []
    if a is None or b is None:
        kind = LOOSENED if b is None else TIGHTENED
        return [(kind, f"sla {'removed: nothing is timed' if b is None else 'added'}")]
    entries = []
    for what, x, y in (
        ("hours", a.hours, b.hours),
        ("period_end_hours", a.period_end_hours, b.period_end_hours),
        ("remind_after", a.remind_after, b.remind_after),
    ):
        if x != y:
            entries.append((LOOSENED if y > x else TIGHTENED, f"sla.{what}: {_n(x)} → {_n(y)}"))
    if a.escalate != b.escalate:
        kind = LOOSENED if b.escalate.value == "none" else TIGHTENED
        entries.append((kind, f"sla.escalate: {a.escalate.value} → {b.escalate.value}"))
    return entries


def _levers(old: Policy, new: Policy) -> list[tuple[str, str]]:
    before = {lever.name: lever for lever in old.levers}
    after = {lever.name: lever for lever in new.levers}
    entries = [(LOOSENED, f"lever {name} removed") for name in before if name not in after]
    entries += [(TIGHTENED, f"lever {name} added") for name in after if name not in before]
    for name in [n for n in after if n in before]:
        a, b = before[name], after[name]
        for tier in [t for t in new.tiers if t in old.tiers]:
            x, y = a.ceilings[old.rank(tier)], b.ceilings[new.rank(tier)]
            if x != y:
                kind = LOOSENED if y > x else TIGHTENED
                entries.append((kind, f"{tier}: {name} ceiling {_n(x)} → {_n(y)}"))
        if a.absolute_max != b.absolute_max:
            kind = _bound_kind(a.absolute_max, b.absolute_max)
            entries.append(
                (kind, f"{name}: absolute_max {_n(a.absolute_max)} → {_n(b.absolute_max)}")
            )
        if (a.compute and a.compute.source) != (b.compute and b.compute.source):
            entries.append((CHANGED, f"{name}: computation changed"))
    return entries


def _rules(old: Policy, new: Policy) -> list[tuple[str, str]]:
    before = {rule.name: rule for rule in old.rules}
    after = {rule.name: rule for rule in new.rules}
    entries = [
        (_removed_kind(r), f"rule {name} removed")
        for name, r in before.items()
        if name not in after
    ]
    entries += [
        (_added_kind(r), f"rule {name} added") for name, r in after.items() if name not in before
    ]
    for name in [n for n in after if n in before]:
        entries += _rule_changes(old, new, before[name], after[name])
    return entries


def _rule_changes(old: Policy, new: Policy, a: Rule, b: Rule) -> list[tuple[str, str]]:
    entries = []
    if a.when.source != b.when.source:
        same_shape = NUMBER.sub("#", a.when.source) == NUMBER.sub("#", b.when.source)
        what = "threshold changed" if same_shape else "condition changed"
        entries.append((CHANGED, f"rule {a.name}: {what} ({a.when.source} → {b.when.source})"))
    if a.require != b.require:
        entries.append(
            (
                _require_kind(new, a.require, b.require),
                f"rule {a.name}: require {a.require} → {b.require}",
            )
        )
    if a.deny != b.deny:
        kind = LOOSENED if b.deny is None else (TIGHTENED if a.deny is None else CHANGED)
        entries.append((kind, f"rule {a.name}: deny {'removed' if b.deny is None else 'set'}"))
    if a.flag != b.flag:
        entries.append((CHANGED, f"rule {a.name}: flag {a.flag} → {b.flag}"))
    for lever in sorted(set(a.ceilings) | set(b.ceilings)):
        for tier in [t for t in new.tiers if t in old.tiers]:
            x = _cap(a.ceilings.get(lever), old.rank(tier))
            y = _cap(b.ceilings.get(lever), new.rank(tier))
            if x != y:
                kind = _bound_kind(x, y)
                entries.append((kind, f"rule {a.name}: {tier}'s {lever} cap {_n(x)} → {_n(y)}"))
    return entries


def _cap(ladder: Ladder | None, rank: int) -> Decimal | None:
    return None if ladder is None else ladder[rank]


def _bound_kind(x: Decimal | None, y: Decimal | None) -> str:
    """A bound rising, or disappearing, loosens; falling, or appearing, tightens."""
    if y is None or (x is not None and y > x):
        return LOOSENED
    return TIGHTENED


def _require_kind(policy: Policy, a: str | None, b: str | None) -> str:
    if b is None:
        return LOOSENED
    if a is None or a not in policy.ranks or b not in policy.ranks:
        return TIGHTENED if a is None else CHANGED
    return TIGHTENED if policy.rank(b) > policy.rank(a) else LOOSENED


def _removed_kind(rule: Rule) -> str:
    return CHANGED if rule.flag and not (rule.require or rule.ceilings or rule.deny) else LOOSENED


def _added_kind(rule: Rule) -> str:
    return CHANGED if rule.flag and not (rule.require or rule.ceilings or rule.deny) else TIGHTENED


def _n(value: Decimal | None) -> str:
    return "none" if value is None else decimal_str(value)


def _month_day(value: tuple[int, int]) -> str:
    return f"{value[0]:02d}-{value[1]:02d}"
