"""The pure SLA rules (api/workflow/sla.py): due times, stages in order, one manager higher."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from api.policy.engine import period_of
from api.policy.loader import PolicySet
from api.policy.model import Escalate, Policy, Sla
from api.workflow.routing import Candidate
from api.workflow.sla import (
    Party,
    assign_current,
    due_at,
    due_stages,
    eligible,
    hours_in_force,
    next_manager,
    next_stage,
    span,
    stage_at,
    stage_kind,
)
from api.workflow.states import RequestState, Step, StepState

T0 = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
SLA = Sla(Decimal(24), Decimal(4), Decimal("0.5"), Escalate.MANAGER)
NO_ESCALATION = Sla(Decimal(24), Decimal(4), Decimal("0.25"), Escalate.NONE)


@pytest.fixture(scope="module")
def policy(shipped: PolicySet) -> Policy:
    return shipped.active


@pytest.mark.parametrize(
    ("today", "hours"),
    [
        pytest.param(date(2026, 6, 10), Decimal(24), id="mid-quarter: hours"),
        # fiscal year starts 02-01: Q2 ends 2026-07-31; the last 14 days are the window
        pytest.param(date(2026, 7, 17), Decimal(24), id="15 days before quarter end: hours"),
        pytest.param(date(2026, 7, 18), Decimal(4), id="14th day before: period_end_hours"),
        pytest.param(date(2026, 7, 31), Decimal(4), id="quarter's last day: period_end_hours"),
        pytest.param(date(2027, 1, 20), Decimal(4), id="year end: period_end_hours"),
        pytest.param(date(2026, 8, 1), Decimal(24), id="next quarter's first day: hours"),
    ],
)
def test_the_sla_in_force_depends_on_the_period(
    policy: Policy, today: date, hours: Decimal
) -> None:
    period = period_of(policy, today)
    assert hours_in_force(SLA, period) == hours
    assert due_at(SLA, T0, period) == T0 + timedelta(hours=int(hours))


def test_no_sla_means_no_due_time(policy: Policy) -> None:
    assert due_at(None, T0, period_of(policy, date(2026, 6, 10))) is None
    assert next_stage(None, T0, None, 0) is None


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        pytest.param(Decimal("0.001"), timedelta(seconds=3.6), id="0.001 h is 3.6 s"),
        pytest.param(Decimal("0.5"), timedelta(minutes=30), id="half an hour"),
        pytest.param(Decimal("1.25"), timedelta(minutes=75), id="fractional hours"),
        pytest.param(Decimal("0.0000001"), timedelta(microseconds=360), id="to the microsecond"),
    ],
)
def test_fractional_hours_are_exact(hours: Decimal, expected: timedelta) -> None:
    assert span(hours) == expected


DUE = T0 + timedelta(hours=24)


@pytest.mark.parametrize(
    ("sla", "stage", "at"),
    [
        pytest.param(SLA, 0, T0 + timedelta(hours=12), id="reminder at remind_after 0.5"),
        pytest.param(NO_ESCALATION, 0, T0 + timedelta(hours=6), id="reminder at 0.25"),
        pytest.param(SLA, 1, DUE, id="overdue at due_at"),
        pytest.param(SLA, 2, DUE, id="first escalation with the overdue"),
        pytest.param(SLA, 3, DUE + timedelta(hours=24), id="second one period later"),
        pytest.param(SLA, 5, DUE + timedelta(hours=72), id="fourth three periods later"),
        pytest.param(NO_ESCALATION, 2, None, id="escalate none: no escalation stage"),
    ],
)
def test_stage_times(sla: Sla, stage: int, at: datetime | None) -> None:
    assert stage_at(sla, T0, DUE, stage) == at


@pytest.mark.parametrize(
    ("sla", "done", "now", "stages"),
    [
        pytest.param(SLA, 0, T0 + timedelta(hours=11), [], id="before the reminder: nothing"),
        pytest.param(SLA, 0, T0 + timedelta(hours=12), [0], id="at the reminder"),
        pytest.param(SLA, 1, T0 + timedelta(hours=20), [], id="reminded: nothing more yet"),
        pytest.param(SLA, 1, DUE, [1, 2], id="due: overdue and first escalation"),
        pytest.param(SLA, 0, DUE, [0, 1, 2], id="missed passes: every stage once, in order"),
        pytest.param(SLA, 3, DUE + timedelta(hours=23), [], id="second escalation not yet"),
        pytest.param(SLA, 3, DUE + timedelta(hours=48), [3, 4], id="two periods: two managers"),
        pytest.param(NO_ESCALATION, 2, DUE + timedelta(days=9), [], id="escalate none: done"),
        pytest.param(NO_ESCALATION, 0, DUE, [0, 1], id="escalate none: reminder and overdue"),
    ],
)
def test_due_stages(sla: Sla, done: int, now: datetime, stages: list[int]) -> None:
    assert due_stages(sla, T0, DUE, done, now) == stages


def test_stage_kinds() -> None:
    assert [stage_kind(n).value for n in range(4)] == [
        "reminder",
        "overdue",
        "escalated",
        "escalated",
    ]


CHAIN = [
    Candidate("sm.lee", "sales_manager", True),
    Candidate("sd.patel", "sales_director", True),
    Candidate("vp.away", "vp_sales", False),
    Candidate("vp.garcia", "vp_sales", True),
    Candidate("ceo.morgan", "ceo", True),
]


@pytest.mark.parametrize(
    ("tier", "escalated", "excluded", "expected"),
    [
        pytest.param("sales_manager", [], [], "sm.lee", id="nearest at or above the tier"),
        pytest.param("sales_director", [], [], "sd.patel", id="below the tier is skipped"),
        pytest.param("sales_director", ["sd.patel"], [], "vp.garcia", id="inactive skipped"),
        pytest.param("sales_director", ["sd.patel", "vp.garcia"], [], "ceo.morgan", id="higher"),
        pytest.param("sales_director", ["ceo.morgan"], [], None, id="the chain has ended"),
        pytest.param("vp_sales", [], ["vp.garcia"], "ceo.morgan", id="never the requester"),
        pytest.param("cfo", [], [], "ceo.morgan", id="a registry tier climbs too"),
    ],
)
def test_next_manager(
    policy: Policy, tier: str, escalated: list[str], excluded: list[str], expected: str | None
) -> None:
    found = next_manager(policy, tier, CHAIN, escalated, excluded)
    assert (found.id if found else None) == expected


@pytest.mark.parametrize(
    ("delegate", "escalated", "expected"),
    [
        pytest.param(None, [], ["sd.patel"], id="the approver alone"),
        pytest.param(
            Party("sd.kim", "sales_director"), [], ["sd.patel", "sd.kim"], id="their delegate"
        ),
        pytest.param(Party("sm.lee", "sales_manager"), [], ["sd.patel"], id="delegate too low"),
        pytest.param(
            Party("sd.kim", "sales_director", active=False), [], ["sd.patel"], id="inactive"
        ),
        pytest.param(
            None,
            [Party("vp.garcia", "vp_sales"), Party("ceo.morgan", "ceo")],
            ["sd.patel", "vp.garcia", "ceo.morgan"],
            id="every manager escalated to",
        ),
    ],
)
def test_eligible(
    policy: Policy, delegate: Party | None, escalated: list[Party], expected: list[str]
) -> None:
    approver = Party("sd.patel", "sales_director")
    found = eligible(policy, "sales_director", approver, delegate, escalated)
    assert [p.id for p in found] == expected


def test_assign_current_stamps_only_the_newly_current_step(policy: Policy) -> None:
    period = period_of(policy, date(2026, 6, 10))
    done = Step("sales_manager", "sm.lee", StepState.APPROVED, assigned_at=T0)
    steps = [done, Step("sales_director", "sd.patel"), Step("vp_sales", "vp.garcia")]
    now = T0 + timedelta(hours=1)
    stamped = assign_current(SLA, RequestState.PENDING, steps, now, period)
    assert stamped[0] == done
    assert (stamped[1].assigned_at, stamped[1].due_at) == (now, now + timedelta(hours=24))
    assert stamped[1].sla_next_at == now + timedelta(hours=12)
    assert (stamped[2].assigned_at, stamped[2].due_at) == (None, None)
    again = assign_current(SLA, RequestState.PENDING, stamped, now + timedelta(hours=2), period)
    assert again == stamped  # already stamped: left alone
    untimed = assign_current(None, RequestState.PENDING, steps, now, period)
    assert (untimed[1].assigned_at, untimed[1].due_at, untimed[1].sla_next_at) == (now, None, None)
    assert assign_current(SLA, RequestState.RETURNED, steps, now, period) == steps
