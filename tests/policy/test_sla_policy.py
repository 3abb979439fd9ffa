"""spec.sla (DESIGN 14): loaded, refused naming file, line and path, warned about by
`policy check`, shown by `policy diff`, and present in the shipped policy."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from api.cli import main
from api.errors import InvalidPolicy
from api.policy.diff import diff
from api.policy.loader import PolicySet, parse_policy
from api.policy.model import Escalate, Sla
from tests.policy.test_loader import policy_text
from tests.policy.test_toolchain import warnings_of

FULL = "{hours: 24, period_end_hours: 4, remind_after: 0.5, escalate: manager}"


def with_sla(value: str | None) -> str:
    text = policy_text()
    if value is None:
        return text
    return text.replace("  tiers:", f"  sla: {value}\n  tiers:")


def sla_of(value: str | None) -> Sla | None:
    return parse_policy(with_sla(value).encode(), "p.yaml").sla


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent: nothing is timed"),
        pytest.param(
            FULL,
            Sla(Decimal(24), Decimal(4), Decimal("0.5"), Escalate.MANAGER),
            id="every key",
        ),
        pytest.param(
            "{hours: 0.001}",
            Sla(Decimal("0.001"), Decimal("0.001"), Decimal("0.5"), Escalate.NONE),
            id="fractional hours; defaults: window = hours, remind halfway, no escalation",
        ),
        pytest.param(
            "{hours: 8, remind_after: 0.75, escalate: none}",
            Sla(Decimal(8), Decimal(8), Decimal("0.75"), Escalate.NONE),
            id="escalate none",
        ),
    ],
)
def test_loaded(value: str | None, expected: Sla | None) -> None:
    assert sla_of(value) == expected


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("{period_end_hours: 4}", ["p.yaml:10: spec.sla.hours: is required"]),
        ("{hours: 0}", ["p.yaml:10: spec.sla.hours: must be more than 0"]),
        ("{hours: -2}", ["p.yaml:10: spec.sla.hours: must not be negative, not -2"]),
        ("{hours: soon}", ["p.yaml:10: spec.sla.hours: must be a number, not 'soon'"]),
        (
            "{hours: 24, period_end_hours: 0}",
            ["p.yaml:10: spec.sla.period_end_hours: must be more than 0"],
        ),
        (
            "{hours: 24, remind_after: 1}",
            ["p.yaml:10: spec.sla.remind_after: must be between 0 and 1 (exclusive), not 1"],
        ),
        (
            "{hours: 24, remind_after: 0}",
            ["p.yaml:10: spec.sla.remind_after: must be between 0 and 1 (exclusive), not 0"],
        ),
        (
            "{hours: 24, escalate: skip}",
            ["p.yaml:10: spec.sla.escalate: 'skip' is not one of none, manager"],
        ),
        (
            "{hours: 24, nag: true}",
            [
                "p.yaml:10: spec.sla.nag: unknown key 'nag'; allowed: escalate, hours, "
                "period_end_hours, remind_after"
            ],
        ),
        ("24", ["p.yaml:10: spec.sla: must be a mapping"]),
    ],
)
def test_refused(value: str, messages: list[str]) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(with_sla(value).encode(), "p.yaml")
    assert [str(p) for p in caught.value.problems] == messages


def test_a_longer_period_end_sla_is_warned_about() -> None:
    assert (
        "p.yaml:10: spec.sla.period_end_hours: warning: period_end_hours (48) is longer than "
        "hours (24): steps wait longer at quarter end, when time is shortest"
    ) in warnings_of(with_sla("{hours: 24, period_end_hours: 48}"))
    assert not [w for w in warnings_of(with_sla(FULL)) if "sla" in w]


@pytest.mark.parametrize(
    ("old", "new", "lines"),
    [
        (None, FULL, ["sla added (tightened)"]),
        (FULL, None, ["sla removed: nothing is timed (loosened)"]),
        (
            FULL,
            "{hours: 48, period_end_hours: 2, remind_after: 0.5, escalate: none}",
            [
                "sla.hours: 24 → 48 (loosened)",
                "sla.escalate: manager → none (loosened)",
                "sla.period_end_hours: 4 → 2 (tightened)",
            ],
        ),
        (FULL, FULL.replace("0.5", "0.25"), ["sla.remind_after: 0.5 → 0.25 (tightened)"]),
    ],
)
def test_diff_knows_the_section(old: str | None, new: str | None, lines: list[str]) -> None:
    a = parse_policy(with_sla(old).encode(), "old.yaml")
    b = parse_policy(with_sla(new).encode(), "new.yaml")
    assert diff(a, b) == lines


def test_policy_check_accepts_an_sla(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.yaml").write_text(with_sla("{hours: 24, remind_after: 2}"))
    assert main(["policy", "check", str(tmp_path)]) == 1
    assert "spec.sla.remind_after: must be between 0 and 1" in capsys.readouterr().err
    (tmp_path / "p.yaml").write_text(with_sla(FULL))
    assert main(["policy", "check", str(tmp_path)]) == 0
    assert "ok: " in capsys.readouterr().out


def test_the_shipped_policy_times_approvals(shipped: PolicySet) -> None:
    assert shipped.active.sla == Sla(Decimal(24), Decimal(4), Decimal("0.5"), Escalate.MANAGER)
