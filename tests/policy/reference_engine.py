"""The engine as it was before its per-policy plan and caches (issue 16), kept verbatim as the
reference the fast engine is compared with: tests/policy/test_engine_plan.py asserts the same
Decision and Assessment from both over generated deals and policies. Do not optimise it."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from api.policy.cel_native import Delegate
from api.policy.conditions import ExpressionError, new_activation
from api.policy.decimals import EXACT, decimal_str, from_cel_number, to_decimal
from api.policy.decision import Decision, EvalError, Finding, Party
from api.policy.engine import REQUESTER_NOT_OWNER, Assessment, cel_value
from api.policy.model import (
    Lever,
    Outcome,
    Policy,
    Rule,
    Status,
    above_tail,
    monotonic,
    within_tail,
)
from api.policy.period import Period, fiscal_period


def assess_reference(
    policy: Policy,
    deal: Mapping[str, Any],
    requester: Party,
    owner: Party,
    *,
    today: date,
    now: datetime,
    decision_id: str = "",
    owner_delegate_id: str | None = None,
) -> Assessment:
    month, day = policy.fiscal_year_start
    period, period_var = _period(today, month, day, policy.period_end_days)
    variables = _variables(policy, requester, owner, period_var)
    library = _Library(policy, deal, variables)
    variables["deal"] = deal  # read natively as is (cel_native converts what it reads)
    errors: list[EvalError] = []
    matched = _matched_rules(policy, variables, library, errors)
    ranks, flags, tightening, denied = set(), [], [], False
    for rule in matched:  # one pass over the matched rules' effects
        if rule.require is not None:
            ranks.add(policy.ranks[rule.require])
        if rule.flag is not None and rule.flag not in flags:
            flags.append(rule.flag)
        if rule.ceilings:
            tightening.append(rule)
        denied = denied or rule.deny is not None
    rank = policy.ranks[requester.tier]
    ceilings, values, findings = {}, {}, []
    highest = -1
    for lever in policy.levers:
        ladder = _ceilings(lever, tightening) if tightening else lever.ceilings
        if lever.compute is None:  # the common case, inline: the value as the deal sent it
            raw = deal.get(lever.name)
            value = raw if type(raw) is Decimal or raw is None else to_decimal(raw)
            missing: tuple[str, ...] = () if raw is not None else (lever.name,)
            failed = False
        else:
            value, missing, failed = _computed(lever, deal, variables, library, errors)
        finding, needed = _finding(policy, lever, ladder, rank, value, missing, failed)
        ceilings[lever.name] = ladder
        values[lever.name] = value
        findings.append(finding)
        if needed > highest:
            highest = needed
        denied = denied or finding.status in _BEYOND
    if not ranks:  # the usual case: the levers alone say who must approve
        required: tuple[str, ...] = (policy.tiers[highest],) if highest > rank else ()
    else:
        if highest >= 0:
            ranks.add(highest)
        required = tuple([policy.tiers[r] for r in sorted(ranks) if r > rank])
    outcome = (
        Outcome.DENIED if denied else (Outcome.NEEDS_APPROVAL if required else Outcome.APPROVED)
    )
    not_owner = requester.id != owner.id and requester.id != owner_delegate_id
    if not_owner and REQUESTER_NOT_OWNER not in flags:
        flags.append(REQUESTER_NOT_OWNER)
    decision = _new(
        Decision,
        (
            decision_id,
            outcome,
            requester,
            owner,
            required,
            tuple(findings),
            tuple([rule.shown for rule in matched]),
            tuple(flags),
            tuple(errors),
            period,
            policy.ref,
            now,
        ),
    )
    return _new(Assessment, (decision, ceilings, values, matched))


_BEYOND = frozenset({Status.BEYOND_AUTHORITY, Status.BEYOND_ABSOLUTE_MAX})


def _variables(
    policy: Policy, requester: Party, owner: Party, period: dict[str, Any]
) -> dict[str, Any]:
    """The variables other than `deal`, as CEL sees them (only those the policy reads)."""
    names = policy.cel_variables
    variables: dict[str, Any] = {}
    if "requester" in names:
        variables["requester"] = _party_var(policy, requester)
    if "owner" in names:
        variables["owner"] = _party_var(policy, owner)
    if "period" in names:
        variables["period"] = period
    return variables


class _Library:
    """The CEL library's context for this evaluation, built only if an expression needs it:
    only the deal fields the policy reads are converted (never, say, 200 quote lines), and
    the whole deal when an expression reads `deal` as a whole."""

    __slots__ = ("_context", "_deal", "_policy", "_variables")

    def __init__(self, policy: Policy, deal: Mapping[str, Any], variables: dict[str, Any]):
        self._policy, self._deal, self._variables = policy, deal, variables
        self._context: Any = None

    def __call__(self) -> Any:
        if self._context is None:
            variables = dict(self._variables)
            if "deal" in self._policy.cel_variables:
                fields = self._policy.cel_deal_fields
                deal = self._deal
                source = deal if fields is None else {k: deal[k] for k in fields if k in deal}
                variables["deal"] = cel_value(source)
            self._context = new_activation(variables)
        return self._context


def _party_var(policy: Policy, party: Party) -> dict[str, Any]:
    return {"id": party.id, "tier": party.tier, "rank": policy.rank(party.tier)}


@lru_cache(maxsize=256)
def _period(today: date, month: int, day: int, end_days: int) -> tuple[Period, dict[str, Any]]:
    """The period and its CEL view, built once per date: shared, so nothing may change them."""
    period = fiscal_period(today, month, day, end_days)
    return period, period.as_dict()


def _matched_rules(
    policy: Policy, variables: dict[str, Any], library: _Library, errors: list[EvalError]
) -> tuple[Rule, ...]:
    """Rules whose `when` holds; a `when` that errors counts as matched (fail closed)."""
    matched = []
    for rule in policy.rules:
        when = rule.when
        native = when.native
        try:
            if native is None:
                result = when.run(variables, library)
            else:  # Expression.run, without its frame: once per rule per decision
                try:
                    result = native(variables)
                except Delegate:
                    result = when.run_library(variables, library)
        except ExpressionError as exc:
            errors.append(EvalError(f"rule:{rule.name}", str(exc)))
            matched.append(rule)
            continue
        if result is True:
            matched.append(rule)
        elif result is not False:
            errors.append(
                EvalError(f"rule:{rule.name}", f"`when` must be true or false, got {result!r}")
            )
            matched.append(rule)
    return tuple(matched)


def _ceilings(lever: Lever, tightening: list[Rule]) -> tuple[Decimal, ...]:
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


def _computed(
    lever: Lever,
    deal: Mapping[str, Any],
    variables: dict[str, Any],
    library: _Library,
    errors: list[EvalError],
) -> tuple[Decimal | None, tuple[str, ...], bool]:
    """(value, missing input fields, compute failed) for a computed lever."""
    compute = lever.compute
    assert compute is not None
    for path in lever.inputs:
        if (deal.get(path[0]) is None) if len(path) == 1 else not has_path(deal, path):
            missing = [".".join(p) for p in lever.inputs if not has_path(deal, p)]
            return None, tuple(missing), False
    native = compute.native
    try:
        if native is None:
            result = compute.run(variables, library)
        else:
            try:
                result = native(variables)
            except Delegate:
                result = compute.run_library(variables, library)
    except ExpressionError as exc:
        errors.append(EvalError(f"lever:{lever.name}", str(exc)))
        return None, (), True
    if type(result) is not float and (type(result) is bool or not isinstance(result, int)):
        errors.append(
            EvalError(f"lever:{lever.name}", f"`compute` must give a number, got {result!r}")
        )
        return None, (), True
    if type(result) is float and not math.isfinite(result):  # since the engine's plan: inf, nan
        errors.append(
            EvalError(f"lever:{lever.name}", f"`compute` must give a finite number, got {result!r}")
        )
        return None, (), True
    return from_cel_number(result), (), False


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


def _finding(
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
    return _new(Finding, (name, value, own, tier, status, headroom, shown + tail)), required


_new = tuple.__new__
"""Builds a NamedTuple from a tuple of its fields without the generated `__new__`'s Python
frame: 0.3 us against 0.8 us for a Finding, on the hot path once per lever per decision."""
