"""The engine's plan for one policy version: what a decision would otherwise rebuild each time.

Built once per policy (plan_of) and shared by every decision on it:
- per set of matched rules (a bit mask, rule i is bit i): the rules' effects (required ranks,
  flags, deny, the rules as a decision lists them) and every lever's ladder as those rules
  tighten it, with the required tiers for every (highest lever rank, requester rank);
- per lever, ladder and requester rank: the finding for each value seen, keyed by the value
  exactly as written (`str` of the Decimal: 18 and 18.0 are equal but read differently), or
  for a computed lever by the CEL number it computed (which alone decides the value) and,
  when its `compute` reads only deal fields and the deal sends them as Decimals, by those
  fields as written (which alone decide the number).

A finding is immutable and depends only on those keys, so a kept one is the finding the
engine would build again (tests/policy/test_engine_plan.py holds it to that against the
engine as it was). Every cache is bounded: a finding cache past its limit starts again; past
their limits, sets of rules and ladders are worked out per decision rather than kept. So a
plan holds at most LADDER_SETS_KEPT x levers x tiers x 2 x VALUES_KEPT findings (about 20 MB
for six levers and six tiers, at ~450 bytes a finding), and a few kB for the usual policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from api.policy.activation import Library
from api.policy.cel_native import Delegate
from api.policy.cel_rules import compile_rules
from api.policy.conditions import RAW_VARIABLES, ExpressionError
from api.policy.decimals import from_cel_number
from api.policy.decision import EvalError, Finding
from api.policy.findings import BEYOND, checked_number, finding, has_path, tightened
from api.policy.model import Lever, MatchedRule, Policy, Rule

REQUESTER_NOT_OWNER = "requester_not_owner"

VALUES_KEPT = 128
"""Findings kept per lever, ladder and requester rank; deals repeat their values a lot."""
RULE_SETS_KEPT = 256
"""Sets of matched rules whose effects are kept (a policy with n rules has 2**n)."""
LADDER_SETS_KEPT = 8
"""Sets of tightening rules whose ladders and findings are kept."""

Entry = tuple[Finding, int, bool, "Decimal | None"]
"""(finding, rank that must approve it or -1, beyond anyone's authority, the value)."""


def _delegate(variables: Mapping[str, Any]) -> Any:
    """Stands in for the native evaluator of an expression outside its subset."""
    raise Delegate


class LeverPlan:
    """One lever under one ladder: its findings by requester rank and value."""

    __slots__ = (
        "by_inputs",
        "caches",
        "computed",
        "flat",
        "keyed",
        "ladder",
        "lever",
        "name",
        "native",
        "nested",
        "policy",
    )

    def __init__(self, policy: Policy, lever: Lever, ladder: tuple[Decimal, ...]) -> None:
        self.policy, self.lever, self.ladder, self.name = policy, lever, ladder, lever.name
        self.computed = lever.compute is not None
        native = lever.compute.native if lever.compute is not None else None
        self.native: Callable[[Mapping[str, Any]], Any] = native or _delegate
        self.flat = tuple(path[0] for path in lever.inputs if len(path) == 1)
        self.nested = tuple(path for path in lever.inputs if len(path) > 1)
        self.caches: list[dict[Any, Entry]] = [{} for _ in policy.tiers]
        self.by_inputs: list[dict[tuple[str, ...], Entry]] = [{} for _ in policy.tiers]
        compute = lever.compute
        self.keyed = (  # the result depends on these deal fields alone, so they can key it
            compute is not None
            and compute.variables == frozenset({"deal"})
            and not compute.reads_whole_deal
            and not self.nested
            and compute.deal_fields == frozenset(self.flat)
        )

    def settle(
        self, rank: int, value: Decimal | None, missing: tuple[str, ...] = (), failed: bool = False
    ) -> Entry:
        """The entry for a case not kept."""
        found, needed = finding(self.policy, self.lever, self.ladder, rank, value, missing, failed)
        return found, needed, found.status in BEYOND, value

    def store(
        self, rank: int, key: Any, value: Decimal | None, missing: tuple[str, ...] = ()
    ) -> Entry:
        """The entry for `key`, kept for the next decision that has it."""
        entry = self.settle(rank, value, missing)
        _keep(self.caches[rank], key, entry)
        return entry

    def evaluate(
        self,
        deal: Mapping[str, Any],
        variables: dict[str, Any],
        library: Library | None,
        errors: list[EvalError],
        rank: int,
    ) -> tuple[Entry, Library | None]:
        """A computed lever's entry, and the CEL library context if it had to build one.

        When the `compute` reads only deal fields and the deal sends each as a Decimal, the
        entry is kept by those fields as written (CEL sees each as float(value), a function
        of its text), so a repeated deal skips the expression and its float conversions."""
        key: tuple[str, ...] | None = None
        if self.keyed:
            texts = []
            for name in self.flat:
                value = deal.get(name)
                if type(value) is not Decimal:
                    break
                texts.append(str(value))
            else:
                key = tuple(texts)
                entry = self.by_inputs[rank].get(key)
                if entry is not None:
                    return entry, library
        for name in self.flat:
            if deal.get(name) is None:
                return self.incomplete(deal, rank), library
        for path in self.nested:
            if not has_path(deal, path):
                return self.incomplete(deal, rank), library
        try:
            result = self.native(variables)
        except Delegate:
            if library is None:
                library = Library(self.policy, deal, variables)
            assert self.lever.compute is not None
            try:
                result = self.lever.compute.run_library(variables, library)
            except ExpressionError as exc:
                errors.append(EvalError(f"lever:{self.name}", str(exc)))
                return self.settle(rank, None, (), True), library
        kind = type(result)
        # a bool is equal to 1 and 0, and inf or nan is no number a ladder places (nan is
        # not even equal to itself): neither gets here
        if kind is int or (kind is float and result - result == 0.0):
            entry = self.caches[rank].get(result)
            if entry is None:
                entry = self.store(rank, result, from_cel_number(result))
            if key is not None:
                _keep(self.by_inputs[rank], key, entry)
            return entry, library
        number = checked_number(self.lever, result, errors)
        if number is None:
            return self.settle(rank, None, (), True), library
        return self.settle(rank, from_cel_number(number)), library

    def incomplete(self, deal: Mapping[str, Any], rank: int) -> Entry:
        missing = tuple(".".join(p) for p in self.lever.inputs if not has_path(deal, p))
        return self.settle(rank, None, missing)


def _keep(cache: dict[Any, Entry], key: Any, entry: Entry) -> None:
    if len(cache) >= VALUES_KEPT:
        cache.clear()
    cache[key] = entry


class Effects(NamedTuple):
    """What one set of matched rules does to a decision."""

    matched: tuple[Rule, ...]
    shown: tuple[MatchedRule, ...]
    denied: bool
    flags: tuple[str, ...]
    flags_not_owner: tuple[str, ...]
    """The flags when the requester is neither the owner nor the owner's delegate."""
    levers: tuple[LeverPlan, ...]
    ceilings: dict[str, tuple[Decimal, ...]]
    required: tuple[tuple[tuple[str, ...], ...], ...]
    """required[highest lever rank + 1][requester rank]: the tiers that must approve."""


def plan_of(policy: Policy) -> Plan:
    """The policy's plan, built on first use and kept on the policy itself, as a
    cached_property keeps its value (the model cannot import the plan: it is built from it)."""
    plan: Plan | None = policy.__dict__.get(_PLAN)
    if plan is None:
        plan = policy.__dict__.setdefault(_PLAN, Plan(policy))
    return plan


_PLAN = "_engine_plan"


class Plan:
    """Everything about a policy a decision reads, ready (see the module docstring)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.month, self.day = policy.fiscal_year_start
        self.end_days = policy.period_end_days
        names = policy.cel_variables
        self.requester, self.owner = "requester" in names, "owner" in names
        self.parties = self.requester or self.owner
        self.period = "period" in names
        self.rules = tuple(
            (1 << i, rule.when.native or _delegate, rule) for i, rule in enumerate(policy.rules)
        )
        self.match = compile_rules([rule.when.source for rule in policy.rules], RAW_VARIABLES)
        """Every rule's `when` natively in one call: (matched, aside) bit masks (cel_rules)."""
        self.ranks = policy.ranks
        self.ref = policy.ref
        self.names = tuple(lever.name for lever in policy.levers)
        self.effects: dict[int, Effects] = {}
        self._ladders: dict[int, tuple[LeverPlan, ...]] = {}

    def effects_for(self, mask: int) -> Effects:
        """The effects of the rules in `mask` (kept for the next decision that matches them)."""
        found = self.effects.get(mask)
        if found is None:
            found = self._effects(mask)
            if len(self.effects) < RULE_SETS_KEPT:
                self.effects[mask] = found
        return found

    def _effects(self, mask: int) -> Effects:
        matched = tuple(rule for bit, _, rule in self.rules if mask & bit)
        ranks: set[int] = set()
        flags: list[str] = []
        tightening, tight, denied = [], 0, False
        for bit, _, rule in self.rules:
            if not mask & bit:
                continue
            if rule.require is not None:
                ranks.add(self.ranks[rule.require])
            if rule.flag is not None and rule.flag not in flags:
                flags.append(rule.flag)
            if rule.ceilings:
                tightening.append(rule)
                tight |= bit
            denied = denied or rule.deny is not None
        levers = self._levers(tight, tightening)
        not_owner = flags if REQUESTER_NOT_OWNER in flags else [*flags, REQUESTER_NOT_OWNER]
        return Effects(
            matched,
            tuple(rule.shown for rule in matched),
            denied,
            tuple(flags),
            tuple(not_owner),
            levers,
            {lp.name: lp.ladder for lp in levers},
            self._required(ranks),
        )

    def _levers(self, tight: int, tightening: list[Rule]) -> tuple[LeverPlan, ...]:
        """Each lever under the ladders of the tightening rules in `tight`, shared by every
        set of matched rules that tightens alike (so their findings are kept once)."""
        found = self._ladders.get(tight)
        if found is None:
            policy = self.policy
            found = tuple(
                LeverPlan(
                    policy, lever, tightened(lever, tightening) if tightening else lever.ceilings
                )
                for lever in policy.levers
            )
            if len(self._ladders) < LADDER_SETS_KEPT:
                self._ladders[tight] = found
        return found

    def _required(self, ranks: set[int]) -> tuple[tuple[tuple[str, ...], ...], ...]:
        tiers = self.policy.tiers
        table = []
        for highest in range(-1, len(tiers)):
            row: list[tuple[str, ...]] = []
            for rank in range(len(tiers)):
                if not ranks:  # the usual case: the levers alone say who must approve
                    row.append((tiers[highest],) if highest > rank else ())
                else:
                    needed = ranks | {highest} if highest >= 0 else ranks
                    row.append(tuple([tiers[r] for r in sorted(needed) if r > rank]))
            table.append(tuple(row))
        return tuple(table)
