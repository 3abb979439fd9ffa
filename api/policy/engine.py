"""`evaluate()`: one deal against one policy, with a reason for every lever. Pure."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api.policy.conditions import ExpressionError
from api.policy.decimals import decimal_str, from_cel_number, to_decimal
from api.policy.decision import Decision, EvalError, Finding, MatchedRule, Party, PolicyRef
from api.policy.loader import monotonic
from api.policy.model import Lever, Outcome, Policy, Rule, Status
from api.policy.period import Period, fiscal_period

REQUESTER_NOT_OWNER = "requester_not_owner"


@dataclass(frozen=True, slots=True)
class Assessment:
    """A decision plus the working behind it, for callers (overrides) that need the ceilings."""

    decision: Decision
    ceilings: Mapping[str, tuple[Decimal, ...]]
    values: Mapping[str, Decimal | None]
    matched: tuple[Rule, ...]


def period_of(policy: Policy, today: date) -> Period:
    month, day = policy.fiscal_year_start
    return fiscal_period(today, month, day, policy.period_end_days)


def evaluate(
    policy: Policy,
    deal: Mapping[str, Any],
    requester: Party,
    owner: Party,
    *,
    today: date,
    now: datetime,
    decision_id: str = "",
    owner_delegate_id: str | None = None,
) -> Decision:
    """Decide a deal: approved, needs_approval (and from which tiers) or denied, with reasons."""
    return assess(
        policy,
        deal,
        requester,
        owner,
        today=today,
        now=now,
        decision_id=decision_id,
        owner_delegate_id=owner_delegate_id,
    ).decision


def assess(
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
    period = period_of(policy, today)
    activation = _activation(policy, deal, requester, owner, period)
    errors: list[EvalError] = []
    matched = _matched_rules(policy, activation, errors)
    ceilings = {lever.name: _ceilings(lever, matched) for lever in policy.levers}
    rank = policy.rank(requester.tier)
    findings, values = [], {}
    for lever in policy.levers:
        value, missing, failed = _lever_value(lever, deal, activation, errors)
        values[lever.name] = value
        findings.append(_finding(policy, lever, ceilings[lever.name], rank, value, missing, failed))
    required = _required_tiers(policy, findings, matched, rank)
    denied = any(r.deny is not None for r in matched) or any(
        f.status in (Status.BEYOND_AUTHORITY, Status.BEYOND_ABSOLUTE_MAX) for f in findings
    )
    outcome = (
        Outcome.DENIED if denied else (Outcome.NEEDS_APPROVAL if required else Outcome.APPROVED)
    )
    flags = [r.flag for r in matched if r.flag is not None]
    if requester.id not in (owner.id, owner_delegate_id):
        flags.append(REQUESTER_NOT_OWNER)
    decision = Decision(
        decision_id=decision_id,
        outcome=outcome,
        requester=requester,
        owner=owner,
        required_tiers=required,
        findings=tuple(findings),
        rules=tuple(MatchedRule(r.name, r.effects, r.because or r.deny) for r in matched),
        flags=tuple(dict.fromkeys(flags)),
        errors=tuple(errors),
        period=period,
        policy=PolicyRef(policy.name, policy.version, policy.sha256),
        evaluated_at=now,
    )
    return Assessment(decision, ceilings, values, matched)


def _activation(
    policy: Policy, deal: Mapping[str, Any], requester: Party, owner: Party, period: Period
) -> Any:
    """Only what the policy's expressions read: unreferenced variables and deal fields (e.g.
    200 quote lines) are never converted, and the period only when the date changes. An
    expression that reads `deal` whole gets the whole deal."""
    names = policy.cel_variables
    fresh: dict[str, Any] = {}
    if "deal" in names:
        fields = policy.cel_deal_fields
        source = deal if fields is None else {k: v for k, v in deal.items() if k in fields}
        fresh["deal"] = cel_value(source)
    if "requester" in names:
        fresh["requester"] = _party_var(policy, requester)
    if "owner" in names:
        fresh["owner"] = _party_var(policy, owner)
    sticky: dict[str, tuple[Hashable, Callable[[], Any]]] = {}
    if "period" in names:
        sticky["period"] = (period, period.as_dict)
    return policy.activations.get(sticky, fresh)


def cel_value(value: Any) -> Any:
    """The deal as CEL sees it: every number a double, nested objects as maps."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (Decimal, int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): cel_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cel_value(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _party_var(policy: Policy, party: Party) -> dict[str, Any]:
    return {"id": party.id, "tier": party.tier, "rank": policy.rank(party.tier)}


def _matched_rules(policy: Policy, activation: Any, errors: list[EvalError]) -> tuple[Rule, ...]:
    """Rules whose `when` holds; a `when` that errors counts as matched (fail closed)."""
    matched = []
    for rule in policy.rules:
        try:
            result = rule.when.run(activation)
        except ExpressionError as exc:
            errors.append(EvalError(f"rule:{rule.name}", str(exc)))
            matched.append(rule)
            continue
        if not isinstance(result, bool):
            errors.append(
                EvalError(f"rule:{rule.name}", f"`when` must be true or false, got {result!r}")
            )
            matched.append(rule)
        elif result:
            matched.append(rule)
    return tuple(matched)


def _ceilings(lever: Lever, matched: tuple[Rule, ...]) -> tuple[Decimal, ...]:
    """Base ladder tightened by every matched rule's ladder, then made monotonic again."""
    ladders = [rule.ceilings[lever.name] for rule in matched if lever.name in rule.ceilings]
    if not ladders:
        return lever.ceilings
    values = list(lever.ceilings)
    for ladder in ladders:
        values = [
            base if cap is None else min(base, cap)
            for base, cap in zip(values, ladder, strict=True)
        ]
    return monotonic(tuple(values))


def _lever_value(
    lever: Lever, deal: Mapping[str, Any], activation: Any, errors: list[EvalError]
) -> tuple[Decimal | None, tuple[str, ...], bool]:
    """(value, missing input fields, compute failed) for one lever."""
    if lever.compute is None:
        present = deal.get(lever.name) is not None
        return (
            (to_decimal(deal[lever.name]) if present else None),
            (() if present else (lever.name,)),
            False,
        )
    missing = tuple(sorted(f for f in lever.compute.deal_fields if deal.get(f) is None))
    if missing:
        return None, missing, False
    try:
        result = lever.compute.run(activation)
    except ExpressionError as exc:
        errors.append(EvalError(f"lever:{lever.name}", str(exc)))
        return None, (), True
    if isinstance(result, bool) or not isinstance(result, (int, float)):
        errors.append(
            EvalError(f"lever:{lever.name}", f"`compute` must give a number, got {result!r}")
        )
        return None, (), True
    return from_cel_number(result), (), False


def _finding(
    policy: Policy,
    lever: Lever,
    ceilings: tuple[Decimal, ...],
    rank: int,
    value: Decimal | None,
    missing: tuple[str, ...],
    failed: bool,
) -> Finding:
    own = ceilings[rank]
    tier = policy.tiers[rank]

    def finding(required: str | None, status: Status, reason: str) -> Finding:
        headroom = None if value is None else own - value
        return Finding(lever.name, value, own, required, status, headroom, reason)

    if failed:
        return finding(
            None,
            Status.BEYOND_AUTHORITY,
            f"{lever.name} could not be computed, so it is treated as beyond authority.",
        )
    if value is None:
        if lever.is_computed:
            return finding(
                None,
                Status.NOT_REQUESTED,
                f"{lever.name} is not computed because the deal does not set {', '.join(missing)}.",
            )
        return finding(None, Status.NOT_REQUESTED, f"The deal does not set {lever.name}.")
    shown = decimal_str(value)
    if lever.absolute_max is not None and value > lever.absolute_max:
        return finding(
            None,
            Status.BEYOND_ABSOLUTE_MAX,
            f"{shown} is above the absolute maximum "
            f"of {decimal_str(lever.absolute_max)}; nobody may grant it, not even by override.",
        )
    required = next((i for i, ceiling in enumerate(ceilings) if ceiling >= value), None)
    if required is None:
        return finding(
            None,
            Status.BEYOND_AUTHORITY,
            f"{shown} is above every tier's ceiling "
            f"(the highest is {policy.tiers[-1]}'s {decimal_str(ceilings[-1])}); "
            "no one may approve it.",
        )
    if required <= rank:
        return finding(
            policy.tiers[required],
            Status.WITHIN,
            f"{shown} is within {tier}'s ceiling of {decimal_str(own)}.",
        )
    needed = policy.tiers[required]
    return finding(
        needed,
        Status.NEEDS_APPROVAL,
        f"{shown} is above {tier}'s ceiling of "
        f"{decimal_str(own)} and within {needed}'s {decimal_str(ceilings[required])}.",
    )


def _required_tiers(
    policy: Policy, findings: list[Finding], matched: tuple[Rule, ...], rank: int
) -> tuple[str, ...]:
    """The highest tier any lever needs plus every `require`, keeping tiers above the requester."""
    ranks = {policy.rank(r.require) for r in matched if r.require is not None}
    lever_ranks = [policy.rank(f.required_tier) for f in findings if f.required_tier is not None]
    if lever_ranks:
        ranks.add(max(lever_ranks))
    return tuple(policy.tiers[r] for r in sorted(ranks) if r > rank)
