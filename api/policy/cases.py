"""Policy test cases (`policies/tests/*.yaml`): a deal, who asks, and what must be decided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from api.errors import InvalidPolicy, PolicyProblem
from api.policy.decision import Decision, Party
from api.policy.engine import evaluate
from api.policy.loader import PolicySet
from api.policy.model import Policy
from api.policy.yamlnodes import YamlProblem, child, read_yaml

CASE_KEYS = {"name", "today", "requester", "owner", "deal", "expect"}
EXPECT_KEYS = {"outcome", "required_tiers", "flags", "levers", "rules"}


@dataclass(frozen=True, slots=True)
class Case:
    file: str
    line: int | None
    name: str
    policy: str
    today: date
    requester: Party
    owner: Party
    deal: Mapping[str, Any]
    expect: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    decision: Decision
    differences: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.differences


def load_cases(directory: Path, default_today: date) -> list[Case]:
    """Every case in `directory/*.yaml`; a malformed file raises InvalidPolicy naming the spot."""
    cases: list[Case] = []
    problems: list[PolicyProblem] = []
    for file in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            cases.extend(_file_cases(file, default_today))
        except InvalidPolicy as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidPolicy(problems)
    return cases


def _file_cases(file: Path, default_today: date) -> list[Case]:
    name = str(file)
    try:
        data, lines = read_yaml(file.read_bytes())
    except YamlProblem as exc:
        raise InvalidPolicy([PolicyProblem(name, exc.path, exc.message, exc.line)]) from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise InvalidPolicy([PolicyProblem(name, "cases", "must be a list of cases", 1)])
    problems, cases = [], []
    for i, item in enumerate(data["cases"]):
        path = child("cases", i)
        try:
            cases.append(
                _case(
                    name,
                    lines,
                    path,
                    str(data.get("policy", "")),
                    item,
                    _date(data.get("today"), default_today),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(PolicyProblem(name, path, f"bad case: {exc}", lines.get(path)))
    if problems:
        raise InvalidPolicy(problems)
    return cases


def _case(
    file: str, lines: dict[str, int], path: str, policy: str, item: Any, default_today: date
) -> Case:
    if not isinstance(item, dict):
        raise TypeError("a case must be a mapping")
    unknown = set(item) - CASE_KEYS
    unknown_expect = set(item.get("expect") or {}) - EXPECT_KEYS
    if unknown or unknown_expect:
        raise KeyError(f"unknown keys {sorted(unknown | unknown_expect)}")
    requester = _party(item.get("requester") or {}, "requester")
    owner = _party(item["owner"], "owner") if "owner" in item else requester
    deal = {
        "deal_id": "CASE",
        "owner_id": owner.id,
        "currency": "USD",
        "list_amount": 0,
        **(item.get("deal") or {}),
    }
    return Case(
        file,
        lines.get(path),
        str(item.get("name", path)),
        policy,
        _date(item.get("today"), default_today),
        requester,
        owner,
        deal,
        item.get("expect") or {},
    )


def _party(spec: Mapping[str, Any], default_id: str) -> Party:
    return Party(str(spec.get("id", default_id)), str(spec["tier"]))


def _date(value: Any, default: date) -> date:
    return default if value is None else date.fromisoformat(str(value))


def run_case(policy: Policy, case: Case) -> CaseResult:
    deal = {"currency": policy.currency, **case.deal}
    decision = evaluate(
        policy, deal, case.requester, case.owner, today=case.today, now=datetime.now(UTC)
    )
    return CaseResult(case, decision, tuple(_differences(case.expect, decision)))


def run_cases(policies: PolicySet, cases: list[Case]) -> list[CaseResult]:
    by_name = {p.name: p for p in policies.all}
    results = []
    for case in cases:
        policy = by_name.get(case.policy) if case.policy else policies.active
        if policy is None:
            raise InvalidPolicy(
                [PolicyProblem(case.file, "policy", f"no loaded policy is named {case.policy!r}")]
            )
        results.append(run_case(policy, case))
    return results


def _differences(expect: Mapping[str, Any], decision: Decision) -> list[str]:
    actual: dict[str, Any] = {
        "outcome": decision.outcome.value,
        "required_tiers": list(decision.required_tiers),
        "flags": sorted(decision.flags),
        "rules": sorted(r.name for r in decision.rules),
        "levers": {f.lever: f.status.value for f in decision.findings},
    }
    diffs = []
    for key, wanted in expect.items():
        got = actual[key]
        if key in ("flags", "rules"):
            wanted = sorted(wanted)
        if key == "levers":
            got = {lever: got.get(lever) for lever in wanted}
        if key == "required_tiers":
            wanted = list(wanted)
        if wanted != got:
            diffs.append(f"{key}: expected {wanted!r}, got {got!r}")
    return diffs
