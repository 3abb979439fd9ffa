"""Warnings for a policy that loads but probably does not say what its author meant."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from api.errors import PolicyProblem
from api.policy.conditions import Expression, ExpressionError, new_activation
from api.policy.deal import NUMERIC_FIELDS, OTHER_FIELDS
from api.policy.engine import cel_value, has_path, period_of
from api.policy.model import Policy
from api.policy.yamlnodes import YamlProblem, child, read_yaml

TYPE_ERROR = re.compile(r"Unsupported operation|no such overload|no matching overload|type", re.I)


def lint(policy: Policy) -> list[PolicyProblem]:
    """Every warning for a policy the loader accepted, each with file, line and path."""
    try:
        _, lines = read_yaml(policy.source)
    except YamlProblem:
        lines = {}
    warnings = _Warnings(policy.file, lines)
    _loosening_rules(policy, warnings)
    _unrequired_tiers(policy, warnings)
    _flat_levers(policy, warnings)
    _cel_types(policy, warnings)
    _unknown_fields(policy, warnings)
    _customer_no_window(policy, warnings)
    _sla_window(policy, warnings)
    return warnings.found


class _Warnings:
    def __init__(self, file: str, lines: dict[str, int]) -> None:
        self.file = file
        self.lines = lines
        self.found: list[PolicyProblem] = []

    def add(self, path: str, message: str) -> None:
        probe = path
        line = self.lines.get(probe)
        while line is None and "." in probe:
            probe = probe.rsplit(".", 1)[0]
            line = self.lines.get(probe)
        self.found.append(PolicyProblem(self.file, path, f"warning: {message}", line))


def _rule_path(index: int) -> str:
    return child("spec.rules", index)


def _loosening_rules(policy: Policy, warnings: _Warnings) -> None:
    levers = {lever.name: lever for lever in policy.levers}
    for i, rule in enumerate(policy.rules):
        for lever_name, ladder in rule.ceilings.items():
            base = levers[lever_name].ceilings
            for rank, (cap, ceiling) in enumerate(zip(ladder, base, strict=True)):
                tier = policy.tiers[rank]
                if cap is not None and cap > ceiling:
                    warnings.add(
                        child(child(child(_rule_path(i), "ceilings"), lever_name), tier),
                        f"rule {rule.name} would loosen {tier}'s {lever_name} ceiling "
                        f"({ceiling} -> {cap}); rules only tighten, so it has no effect there",
                    )


def _unrequired_tiers(policy: Policy, warnings: _Warnings) -> None:
    required = {rule.require for rule in policy.rules if rule.require}
    ladders = [lever.ceilings for lever in policy.levers]
    ladders += [
        tuple(c for c in ladder if c is not None)
        for rule in policy.rules
        for ladder in rule.ceilings.values()
    ]
    for rank, tier in enumerate(policy.tiers[1:], start=1):
        steps_up = any(
            len(ladder) == len(policy.tiers) and ladder[rank] > ladder[rank - 1]
            for ladder in ladders
        )
        if not steps_up and tier not in required:
            warnings.add(
                "spec.tiers",
                f"tier {tier} is never required: no lever's ceiling rises at {tier} and no rule "
                "requires it",
            )


def _flat_levers(policy: Policy, warnings: _Warnings) -> None:
    for lever in policy.levers:
        if len(set(lever.ceilings)) == 1:
            warnings.add(
                child(child("spec.levers", lever.name), "ceilings"),
                f"every tier has the same {lever.name} ceiling ({lever.ceilings[0]}): no one can "
                "approve more than the requester, so anything above it is denied",
            )


def sample_deal(policy: Policy) -> dict[str, Any]:
    """A deal with every field the schema knows (and every lever), for type-checking CEL."""
    deal: dict[str, Any] = {
        "deal_id": "SAMPLE",
        "owner_id": "owner",
        "currency": policy.currency,
        "account": {"id": "A", "name": "Sample", "segment": "enterprise"},
        "list_amount": Decimal("100000"),
        "discount_pct": Decimal("10"),
        "rebate_pct": Decimal("1"),
        "payment_terms_days": Decimal("30"),
        "term_months": Decimal("12"),
        "special_billing": False,
        "close_date": "2026-06-30",
        "customer_target_date": "2026-07-31",
        "lines": [
            {
                "sku": "S",
                "quantity": Decimal("1"),
                "list_price": Decimal("100000"),
                "discount_pct": Decimal("10"),
            }
        ],
        "attributes": {},
    }
    for lever in policy.deal_levers:
        deal.setdefault(lever.name, Decimal("1"))
    for lever in policy.levers:  # a computed lever's free-form inputs, as numbers
        for path in lever.inputs:
            if path[0] == "attributes" and len(path) > 1:
                _put(deal, path, Decimal("1"))
    return deal


def _put(deal: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set a nested path unless something that is not an object is in the way."""
    node = deal
    for step in path[:-1]:
        nested = node.setdefault(step, {})
        if not isinstance(nested, dict):
            return
        node = nested
    node.setdefault(path[-1], value)


def _cel_types(policy: Policy, warnings: _Warnings) -> None:
    tier = policy.tiers[0]
    party = {"id": "owner", "tier": tier, "rank": 0}
    sample = sample_deal(policy)
    variables = {
        "deal": cel_value(sample),
        "requester": party,
        "owner": party,
        "period": period_of(policy, date(2026, 6, 15)).as_dict(),
    }
    activation = new_activation(variables)
    checks: list[tuple[str, Expression]] = [
        (child(child("spec.levers", lever.name), "compute"), lever.compute)
        for lever in policy.levers
        if lever.compute is not None and all(has_path(sample, p) for p in lever.inputs)
    ]
    checks += [(child(_rule_path(i), "when"), rule.when) for i, rule in enumerate(policy.rules)]
    for path, expression in checks:
        try:
            expression.run(variables, lambda: activation)
        except ExpressionError as exc:
            if TYPE_ERROR.search(str(exc)):
                warnings.add(path, f"CEL type error on a sample deal: {exc}")


def _unknown_fields(policy: Policy, warnings: _Warnings) -> None:
    known = NUMERIC_FIELDS | OTHER_FIELDS | policy.lever_names
    for i, rule in enumerate(policy.rules):
        for name in sorted(rule.when.deal_fields - known):
            warnings.add(
                child(_rule_path(i), "when"),
                f"deal.{name} is not a field of the deal schema; custom fields go under "
                f"deal.attributes (deal.attributes.{name})",
            )


def _customer_no_window(policy: Policy, warnings: _Warnings) -> None:
    days = policy.customer_no_days
    if days == 0:
        warnings.add(
            "spec.customer_no_days",
            "customer_no_days is 0: a deal pushed again after the customer said no is "
            "flagged (after_customer_no) only on the same day",
        )
    elif days > 366:
        warnings.add(
            "spec.customer_no_days",
            f"customer_no_days is {days}: more than a year, so a deal the customer declined "
            "is flagged as pushed after their no for longer than a fiscal year",
        )


def _sla_window(policy: Policy, warnings: _Warnings) -> None:
    sla = policy.sla
    if sla is not None and sla.period_end_hours > sla.hours:
        warnings.add(
            "spec.sla.period_end_hours",
            f"period_end_hours ({sla.period_end_hours}) is longer than hours ({sla.hours}): "
            "steps wait longer at quarter end, when time is shortest",
        )
