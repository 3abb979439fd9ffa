"""The loader: ceiling semantics, and a refusal naming file, path and line for every bad input."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from api.errors import InvalidPolicy
from api.policy.decision import Party
from api.policy.engine import evaluate
from api.policy.loader import load_policy_dir, parse_policy

BASE = """\
apiVersion: dealdesk/v1
kind: AuthorityPolicy
metadata:
  name: small
  version: "1"
spec:
  currency: EUR
  fiscal_year_start: "01-01"
  period_end_days: 10
  tiers: [rep, manager, director, vp]
  levers:
    discount_pct:
      ceilings: {manager: 10, vp: 30}
{rules}
"""


def policy_text(rules: str = "", **replace: str) -> str:
    text = BASE.replace("{rules}", textwrap.indent(textwrap.dedent(rules), "  ") if rules else "")
    for old, new in replace.items():
        text = text.replace(old.replace("_", " "), new)
    return text


def load(text: str) -> object:
    return parse_policy(text.encode(), "policy.yaml")


def decide(text: str, discount: str, tier: str = "rep", **fields: object) -> object:
    policy = parse_policy(text.encode(), "policy.yaml")
    party = Party("p", tier)
    deal = {
        "deal_id": "D",
        "owner_id": "p",
        "currency": "EUR",
        "list_amount": Decimal(1000),
        "discount_pct": Decimal(discount),
        **fields,
    }
    return evaluate(policy, deal, party, party, today=date(2026, 3, 1), now=datetime.now(UTC))


def test_unlisted_lowest_tier_is_zero_and_others_inherit() -> None:
    policy = parse_policy(policy_text().encode(), "p.yaml")
    assert policy.levers[0].ceilings == (Decimal(0), Decimal(10), Decimal(10), Decimal(30))
    assert policy.override_min_tier == "vp"  # no overrides key: only the top tier may override
    assert policy.period_end_days == 10 and policy.fiscal_year_start == (1, 1)


def test_rule_ladder_leaves_tiers_below_its_lowest_untouched_then_stays_monotonic() -> None:
    text = policy_text("""
        rules:
          - name: cap
            when: deal.list_amount > 10.0
            ceilings: {discount_pct: {director: 5, vp: 20}}
        """)
    decision = decide(text, "10", tier="manager")
    finding = decision.finding("discount_pct")  # type: ignore[attr-defined]
    # manager untouched (10); director capped to 5 but authority never decreases -> 10; vp 20
    assert (finding.status, str(finding.requester_ceiling)) == ("within", "10")
    over = decide(text, "10.5", tier="manager").finding("discount_pct")  # type: ignore[attr-defined]
    assert (over.status, over.required_tier) == ("needs_approval", "vp")
    beyond = decide(text, "20.5", tier="manager").finding("discount_pct")  # type: ignore[attr-defined]
    assert beyond.status == "beyond_authority"


def test_when_that_errors_fails_closed_and_is_reported() -> None:
    text = policy_text("""
        rules:
          - name: broken
            when: deal.no_such_field > 1.0
            deny: Broken rules deny.
        """)
    decision = decide(text, "1")
    assert decision.outcome == "denied"  # type: ignore[attr-defined]
    assert [e.as_dict() for e in decision.errors] == [  # type: ignore[attr-defined]
        {"source": "rule:broken", "message": "no such key: no_such_field"}
    ]


def test_compute_that_errors_is_beyond_authority_and_missing_input_is_not_requested() -> None:
    text = policy_text().replace(
        "      ceilings: {manager: 10, vp: 30}\n",
        (
            "      ceilings: {manager: 10, vp: 30}\n"
            "    mixed:\n"
            "      compute: deal.discount_pct + 1\n"
            "      ceilings: {rep: 50}\n"
        ),
    )
    decision = decide(text, "1")
    mixed = decision.finding("mixed")  # type: ignore[attr-defined]
    assert (mixed.status, mixed.value, decision.outcome) == ("beyond_authority", None, "denied")  # type: ignore[attr-defined]
    assert decision.errors[0].source == "lever:mixed"  # type: ignore[attr-defined]
    assert "float + int" in decision.errors[0].message  # type: ignore[attr-defined]
    policy = parse_policy(text.encode(), "p.yaml")
    party = Party("p", "rep")
    bare = evaluate(
        policy,
        {"deal_id": "D", "owner_id": "p", "currency": "EUR", "list_amount": Decimal(1)},
        party,
        party,
        today=date(2026, 3, 1),
        now=datetime.now(UTC),
    )
    assert (bare.finding("mixed").status, list(bare.errors)) == ("not_requested", [])


REFUSALS = [
    (
        "unknown key",
        {'  version: "1"\n': '  version: "1"\n  colour: red\n'},
        "metadata.colour",
        6,
        "unknown key 'colour'",
    ),
    (
        "unknown tier",
        {"{manager: 10, vp: 30}": "{manager: 10, cfo: 30}"},
        "spec.levers.discount_pct.ceilings.cfo",
        13,
        "unknown key 'cfo'",
    ),
    (
        "non-numeric ceiling",
        {"{manager: 10, vp: 30}": "{manager: ten, vp: 30}"},
        "spec.levers.discount_pct.ceilings.manager",
        13,
        "must be a number, not 'ten'",
    ),
    (
        "decreasing ceilings",
        {"{manager: 10, vp: 30}": "{manager: 10, vp: 5}"},
        "spec.levers.discount_pct.ceilings.vp",
        13,
        "ceilings decrease: vp 5 is below manager 10",
    ),
    (
        "bad CEL",
        {"{manager: 10, vp: 30}": "{manager: 10, vp: 30}\n      compute: deal.(("},
        "spec.levers.discount_pct.compute",
        14,
        "CEL does not parse",
    ),
    (
        "unknown require tier",
        {
            "{manager: 10, vp: 30}": "{manager: 10, vp: 30}\n  rules:\n"
            "    - {name: r, when: 'true', require: boss}"
        },
        "spec.rules[0].require",
        15,
        "'boss' is not a tier of this policy",
    ),
    (
        "rule without effect",
        {"{manager: 10, vp: 30}": "{manager: 10, vp: 30}\n  rules:\n    - {name: r, when: 'true'}"},
        "spec.rules[0]",
        15,
        "a rule needs at least one effect",
    ),
    (
        "bad fiscal start",
        {'"01-01"': '"02-30"'},
        "spec.fiscal_year_start",
        8,
        "'02-30' is not a day of the year",
    ),
    (
        "bad status",
        {'  version: "1"\n': '  version: "1"\n  status: draft\n'},
        "metadata.status",
        6,
        "'draft' is not one of active, shadow",
    ),
]


@pytest.mark.parametrize(
    ("what", "edits", "path", "line", "message"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_refusals_name_file_path_and_line(
    what: str, edits: dict[str, str], path: str, line: int, message: str
) -> None:
    text = policy_text()
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new)
    with pytest.raises(InvalidPolicy) as caught:
        load(text)
    problem = next(p for p in caught.value.problems if p.path == path)
    assert (problem.file, problem.line) == ("policy.yaml", line)
    assert message in problem.message
    assert str(problem).startswith(f"policy.yaml:{line}: {path}: ")


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        load("apiVersion: dealdesk/v1\nkind: [unclosed\n")
    assert caught.value.problems[0].line == 3
    assert "not valid YAML" in caught.value.problems[0].message


def test_directory_refuses_two_active_policies(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(policy_text())
    (tmp_path / "b.yaml").write_text(policy_text().replace("name: small", "name: other"))
    with pytest.raises(InvalidPolicy) as caught:
        load_policy_dir(tmp_path)
    assert "two or more active policies: small" in str(caught.value)


def test_directory_keeps_shadows_beside_the_active_one(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(policy_text())
    shadow = (
        policy_text()
        .replace("name: small", "name: candidate")
        .replace('  version: "1"\n', '  version: "2"\n  status: shadow\n')
    )
    (tmp_path / "b.yaml").write_text(shadow)
    policies = load_policy_dir(tmp_path)
    assert (policies.active.name, [p.name for p in policies.shadows]) == ("small", ["candidate"])


def test_empty_directory_has_no_active_policy(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        load_policy_dir(tmp_path)
    assert caught.value.problems[0].message == "no active policy"


def test_an_integer_beyond_a_double_is_an_infinity_not_a_crash() -> None:
    text = policy_text("""
        rules:
          - name: many-seats
            when: deal.attributes.seats > 100.0
            require: vp
    """)
    huge = decide(text, "5", attributes={"seats": 10**400})
    small = decide(text, "5", attributes={"seats": 99})
    assert (huge.required_tiers, huge.errors, huge.rules[0].name) == (
        ("manager", "vp"),
        (),
        "many-seats",
    )
    assert (small.required_tiers, small.rules) == (("manager",), ())
