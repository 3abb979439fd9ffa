"""One lever's finding, worked out in full: its ladder as the matched rules tighten it, the
check on a computed lever's CEL result, and the finding with its status, headroom and reason.

The engine's plan (plan.py) calls these once per distinct case and keeps the result; they
are also the whole story for the cases it does not keep (a value it has not seen)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from api.policy.decimals import EXACT, decimal_str
from api.policy.decision import EvalError, Finding
from api.policy.model import Lever, Policy, Rule, Status, above_tail, monotonic, within_tail

BEYOND = frozenset({Status.BEYOND_AUTHORITY, Status.BEYOND_ABSOLUTE_MAX})


def tightened(lever: Lever, tightening: list[Rule]) -> tuple[Decimal, ...]:
    """Base ladder tightened by every matched rule's ladder, then made monotonic again."""
    ladders = [rule.ceilings[lever.name] for rule in tightening if lever.name in rule.ceilings]
    if not ladders:
        return lever.ceilings
    values = list(lever.ceilings)
    for ladder in ladders:
        values = [
            base if cap is None else min(base, cap)
            for base, cap in zip(values, ladder, strict=True)
        ]
    return monotonic(tuple(values))


def checked_number(lever: Lever, result: Any, errors: list[EvalError]) -> Any:
    """`result` when `compute` gave a finite number (a double or an int), else None and an
    error: CEL's double division by zero gives inf or nan rather than failing, and no ladder
    can place those, so the lever fails closed like any other compute error."""
    if type(result) is not float and (type(result) is bool or not isinstance(result, int)):
        errors.append(
            EvalError(f"lever:{lever.name}", f"`compute` must give a number, got {result!r}")
        )
        return None
    if type(result) is float and not math.isfinite(result):
        errors.append(
            EvalError(f"lever:{lever.name}", f"`compute` must give a finite number, got {result!r}")
        )
        return None
    return result


def has_path(deal: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether the deal sets every step of `path` (a null counts as not set)."""
    value: Any = deal
    for step in path:
        if not isinstance(value, Mapping):
            return False
        value = value.get(step)
        if value is None:
            return False
    return True


def finding(
    policy: Policy,
    lever: Lever,
    ceilings: tuple[Decimal, ...],
    rank: int,
    value: Decimal | None,
    missing: tuple[str, ...],
    failed: bool,
) -> tuple[Finding, int]:
    """The finding for one lever, and the rank that must approve it (-1 when none)."""
    own = ceilings[rank]
    name = lever.name
    if failed:
        reason = f"{name} could not be computed, so it is treated as beyond authority."
        return Finding(name, None, own, None, Status.BEYOND_AUTHORITY, None, reason), -1
    if value is None:
        if lever.compute is not None:
            reason = f"{name} is not computed because the deal does not set {', '.join(missing)}."
        else:
            reason = f"The deal does not set {name}."
        return Finding(name, None, own, None, Status.NOT_REQUESTED, None, reason), -1
    shown = decimal_str(value)
    headroom = EXACT.subtract(own, value)
    if lever.absolute_max is not None and value > lever.absolute_max:
        reason = (
            f"{shown} is above the absolute maximum of {decimal_str(lever.absolute_max)}; "
            "nobody may grant it, not even by override."
        )
        return Finding(name, value, own, None, Status.BEYOND_ABSOLUTE_MAX, headroom, reason), -1
    required = bisect_left(ceilings, value)  # ladders never decrease going up
    if required == len(ceilings):
        reason = (
            f"{shown} is above every tier's ceiling (the highest is {policy.tiers[-1]}'s "
            f"{decimal_str(ceilings[-1])}); no one may approve it."
        )
        return Finding(name, value, own, None, Status.BEYOND_AUTHORITY, headroom, reason), -1
    if ceilings is lever.ceilings:  # the lever's own ladder: its sentences are ready
        tails = policy.reason_tails[name]
        tail = tails.within[rank] if required <= rank else tails.above[rank][required]
    elif required <= rank:
        tail = within_tail(policy.tiers[rank], decimal_str(own))
    else:
        needed = decimal_str(ceilings[required])
        tail = above_tail(policy.tiers[rank], decimal_str(own), policy.tiers[required], needed)
    status = Status.WITHIN if required <= rank else Status.NEEDS_APPROVAL
    tier = policy.tiers[required]
    return Finding(name, value, own, tier, status, headroom, shown + tail), required
