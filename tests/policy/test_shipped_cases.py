"""The shipped policy's own cases (policies/tests) pass, as `dealdesk policy test` runs them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from api.cli import main
from api.policy.cases import load_cases, run_cases
from api.policy.loader import PolicySet

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_every_shipped_case_passes(shipped: PolicySet) -> None:
    results = run_cases(shipped, load_cases(POLICIES / "tests", date(2026, 6, 10)))
    assert len(results) >= 40
    assert [r.case.name for r in results if not r.passed] == []


def test_cli_policy_test_reports_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "p.yaml").write_bytes((POLICIES / "deal-authority.yaml").read_bytes())
    (tmp_path / "tests" / "c.yaml").write_text(
        "cases:\n  - name: wrong on purpose\n    today: '2026-06-10'\n"
        "    requester: {tier: account_manager}\n    deal: {discount_pct: 11}\n"
        "    expect: {outcome: approved}\n"
    )
    assert main(["policy", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "outcome: expected 'approved', got 'needs_approval'" in out
    assert out.strip().endswith("0 passed, 1 failed")


def test_cli_policy_check_names_file_line_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        (POLICIES / "deal-authority.yaml")
        .read_text()
        .replace("sales_director: 20,", "sales_director: 12,")
    )
    (tmp_path / "p.yaml").write_text(text)
    assert main(["policy", "check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert (
        f"{tmp_path}/p.yaml:24: spec.levers.discount_pct.ceilings.sales_director: ceilings decrease"
        in err
    )
