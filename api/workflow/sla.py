"""Service levels (DESIGN 14): a step's due time, and the reminder, overdue and escalation
stages that follow from it, all from the clock passed in.

A timed step goes through numbered stages, each exactly once and in order:
stage 0 is the reminder (at `remind_after` of the time), stage 1 is overdue (at `due_at`),
and with `escalate: manager` stage 1 + k is the k-th escalation, the first at `due_at` and
each further one a whole SLA period later, until the approver's chain has no manager left.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from api.policy.model import Escalate, Policy, Sla
from api.policy.period import Period
from api.workflow.machine import current_step
from api.workflow.routing import Candidate
from api.workflow.states import RequestState, Step

REMIND, OVERDUE = 0, 1
"""Stage numbers; every stage after OVERDUE is an escalation."""


class Stage(StrEnum):
    REMINDER = "reminder"
    OVERDUE = "overdue"
    ESCALATED = "escalated"


def stage_kind(stage: int) -> Stage:
    if stage == REMIND:
        return Stage.REMINDER
    return Stage.OVERDUE if stage == OVERDUE else Stage.ESCALATED


def hours_in_force(sla: Sla, period: Period) -> Decimal:
    """The SLA for a step that becomes current in `period`: shorter inside a period-end window."""
    return sla.period_end_hours if period.is_period_end else sla.hours


def span(hours: Decimal) -> timedelta:
    """Hours (fractional ones included) as a timedelta, to the microsecond."""
    return timedelta(microseconds=int(hours * 3_600_000_000))


def due_at(sla: Sla | None, assigned_at: datetime, period: Period) -> datetime | None:
    """When a step assigned at `assigned_at` (in `period`) is due; None without an SLA."""
    if sla is None:
        return None
    return assigned_at + span(hours_in_force(sla, period))


def stage_at(sla: Sla, assigned_at: datetime, due: datetime, stage: int) -> datetime | None:
    """When `stage` falls due for a step; None when there is no such stage under `sla`."""
    if stage == REMIND:
        return assigned_at + (due - assigned_at) * float(sla.remind_after)
    if stage == OVERDUE:
        return due
    if sla.escalate is Escalate.NONE or stage < OVERDUE:
        return None
    return due + (due - assigned_at) * (stage - OVERDUE - 1)


def next_stage(
    sla: Sla | None, assigned_at: datetime | None, due: datetime | None, done: int
) -> tuple[int, datetime] | None:
    """The stage after the `done` ones already fired, and when; None when nothing is left."""
    if sla is None or assigned_at is None or due is None:
        return None
    at = stage_at(sla, assigned_at, due, done)
    return None if at is None else (done, at)


def due_stages(
    sla: Sla | None, assigned_at: datetime | None, due: datetime | None, done: int, now: datetime
) -> list[int]:
    """Every stage that should have fired by `now` but has not, in order."""
    stages: list[int] = []
    upcoming = next_stage(sla, assigned_at, due, done)
    while upcoming is not None and upcoming[1] <= now:
        stages.append(upcoming[0])
        upcoming = next_stage(sla, assigned_at, due, upcoming[0] + 1)
    return stages


def next_manager(
    policy: Policy,
    step_tier: str,
    chain: Sequence[Candidate],
    escalated: Sequence[str],
    excluded: Collection[str],
) -> Candidate | None:
    """One manager higher: the nearest active manager in the approver's `chain` (nearest
    first) above the last one escalated to, whose tier is at or above the step's; never
    someone in `excluded` (the owner and the requester). None when the chain has ended."""
    start = 0
    for index, person in enumerate(chain):
        if person.id in escalated:
            start = index + 1
    wanted = policy.rank(step_tier)
    for person in chain[start:]:
        if (
            person.active
            and person.id not in excluded
            and person.tier in policy.ranks
            and policy.rank(person.tier) >= wanted
        ):
            return person
    return None


@dataclass(frozen=True, slots=True)
class Party:
    """Someone who might act on a step: id, tier, and whether they are active."""

    id: str
    tier: str
    active: bool = True


def eligible(
    policy: Policy,
    step_tier: str,
    approver: Party | None,
    delegate: Party | None,
    escalated: Sequence[Party],
) -> list[Party]:
    """Everyone who may act on a current step now: the approver, their delegate for today
    (if active and of a tier that reaches the step's), and every manager escalated to."""
    people: list[Party] = []
    if approver is not None:
        people.append(approver)
    if (
        delegate is not None
        and delegate.active
        and delegate.tier in policy.ranks
        and policy.rank(delegate.tier) >= policy.rank(step_tier)
    ):
        people.append(delegate)
    for person in escalated:
        if all(p.id != person.id for p in people):
            people.append(person)
    return people


def assign_current(
    sla: Sla | None, state: RequestState, steps: Sequence[Step], now: datetime, period: Period
) -> list[Step]:
    """Stamp the step that has just become current (if any, and not stamped already) with
    `assigned_at` and, under an SLA, `due_at` and its first stage."""
    index = current_step(state, steps)
    if index is None or steps[index].assigned_at is not None:
        return list(steps)
    due = due_at(sla, now, period)
    upcoming = next_stage(sla, now, due, 0)
    stamped = replace(
        steps[index],
        assigned_at=now,
        due_at=due,
        escalations=(),
        sla_stage=0,
        sla_next_at=upcoming[1] if upcoming else None,
    )
    return [*steps[:index], stamped, *steps[index + 1 :]]
