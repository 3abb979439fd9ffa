"""policy check warnings, test --coverage, and diff: the tools a reviewer trusts a change by."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main
from api.policy.diff import diff
from api.policy.lint import lint
from api.policy.loader import parse_policy
from tests.policy.test_loader import policy_text

SHIPPED = Path(__file__).resolve().parents[2] / "policies"


def warnings_of(text: str) -> list[str]:
    return [str(w) for w in lint(parse_policy(text.encode(), "p.yaml"))]


WARNINGS = [
    (
        "loosening rule",
        """
        rules:
          - name: generous
            when: deal.list_amount > 1.0
            ceilings: {discount_pct: {manager: 25}}
        """,
        "p.yaml:18: spec.rules[0].ceilings.discount_pct.manager: warning: rule generous "
        "would loosen manager's discount_pct ceiling (10 -> 25)",
    ),
    ("never required tier", "", "p.yaml:10: spec.tiers: warning: tier director is never required"),
    (
        "CEL type error",
        """
        rules:
          - name: mixed
            when: deal.list_amount + 1 > 2.0
            flag: big
        """,
        "p.yaml:17: spec.rules[0].when: warning: CEL type error on a sample deal",
    ),
    (
        "unknown deal field",
        """
        rules:
          - name: region
            when: has(deal.region) && deal.region == "EMEA"
            flag: emea
        """,
        "p.yaml:17: spec.rules[0].when: warning: deal.region is not a field of the deal "
        "schema; custom fields go under deal.attributes (deal.attributes.region)",
    ),
]


@pytest.mark.parametrize(("what", "rules", "expected"), WARNINGS, ids=[w[0] for w in WARNINGS])
def test_check_warnings(what: str, rules: str, expected: str) -> None:
    found = warnings_of(policy_text(rules))
    assert any(w.startswith(expected) for w in found), found


def test_flat_lever_warning() -> None:
    text = policy_text().replace("{manager: 10, vp: 30}", "{rep: 5, vp: 5}")
    assert (
        "p.yaml:13: spec.levers.discount_pct.ceilings: warning: every tier has the same "
        "discount_pct ceiling (5)" in "\n".join(warnings_of(text))
    )


def test_shipped_policy_is_clean() -> None:
    assert main(["policy", "check", "--strict", str(SHIPPED)]) == 0


def test_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.yaml").write_text(policy_text())
    assert main(["policy", "check", str(tmp_path)]) == 0
    assert main(["policy", "check", "--strict", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert f"{tmp_path}/p.yaml:10: spec.tiers: warning: tier director is never required" in out
    (tmp_path / "p.yaml").write_text(policy_text().replace("vp: 30", "vp: lots"))
    assert main(["policy", "check", "--strict", str(tmp_path)]) == 1


def test_shipped_cases_cover_every_boundary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", "--coverage", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "100.0% covered (minimum 100%)" in out
    assert "MISS" not in out
    assert "ok   ceiling discount_pct @ ceo = 50" in out
    assert "ok   rule large-deal-cfo" in out


def test_coverage_gaps_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "p.yaml").write_text(
        policy_text("""
        rules:
          - name: big
            when: deal.list_amount > 1000.0
            require: vp
        """)
    )
    (tmp_path / "tests" / "c.yaml").write_text(
        "cases:\n  - name: at the manager's ceiling\n    today: '2026-03-01'\n"
        "    requester: {tier: manager}\n    deal: {discount_pct: 10, list_amount: 5}\n"
        "    expect: {outcome: approved}\n"
    )
    assert main(["policy", "test", "--coverage", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "MISS ceiling discount_pct @ manager = 10  (no case just above 10)" in out
    assert "ok   ceiling discount_pct @ rep = 0" not in out
    assert "MISS rule big  (no case matching)" in out
    assert "0.0% covered" in out or "% covered (minimum 100%)" in out
    assert main(["policy", "test", "--coverage", "--min-coverage", "0", str(tmp_path)]) == 0


def test_diff_lists_loosenings_first() -> None:
    old = parse_policy(
        policy_text("""
        rules:
          - name: large
            when: deal.list_amount >= 1000000.0
            require: vp
        """).encode(),
        "old",
    )
    new_text = (
        policy_text("""
        rules:
          - name: large
            when: deal.list_amount >= 2000000.0
            require: vp
          - name: year-end
            when: period.is_year_end
            deny: No deals in the window.
        """)
        .replace("{manager: 10, vp: 30}", "{manager: 8, director: 20, vp: 30}")
        .replace("tiers: [rep, manager, director, vp]", "tiers: [rep, manager, director, vp, ceo]")
    )
    new = parse_policy(new_text.encode(), "new")
    assert diff(old, new) == [
        "director: discount_pct ceiling 10 → 20 (loosened)",
        "overrides.min_tier: vp → ceo (tightened)",
        "manager: discount_pct ceiling 10 → 8 (tightened)",
        "rule year-end added (tightened)",
        "tier ceo added (changed)",
        "rule large: threshold changed (deal.list_amount >= 1000000.0 → "
        "deal.list_amount >= 2000000.0) (changed)",
    ]


def test_cli_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(policy_text())
    (tmp_path / "b.yaml").write_text(policy_text().replace("vp: 30", "vp: 35"))
    assert main(["policy", "diff", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]) == 0
    assert capsys.readouterr().out == "- vp: discount_pct ceiling 30 → 35 (loosened)\n"
    assert main(["policy", "diff", str(tmp_path / "a.yaml"), str(tmp_path / "a.yaml")]) == 0
    assert capsys.readouterr().out == "no authority changes\n"
