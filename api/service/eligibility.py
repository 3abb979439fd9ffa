"""Who may act on each request's current step now (DESIGN 14's `eligible`): the approver,
their delegate for today, and every manager the step was escalated to.

Read from the registry when a request is shown or announced, never stored: a delegation
that starts tomorrow changes tomorrow's list without touching the request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

import psycopg

from api.policy.model import Policy
from api.storage.people import Person, get_people
from api.storage.requests import RequestRecord
from api.workflow.machine import current_step
from api.workflow.sla import Party, eligible
from api.workflow.states import Eligible, Step


def attach(
    conn: psycopg.Connection,
    policy: Policy,
    today: date,
    records: Sequence[RequestRecord],
    *,
    known: Mapping[str, Person] | None = None,
) -> list[RequestRecord]:
    """The records with `eligible` filled in on each one's current step: at most two reads,
    none for people the caller has just read (`known`, as routing a submission does)."""
    currents = {r.id: current_step(r.request_state, r.steps) for r in records}
    steps = [r.steps[i] for r in records if (i := currents[r.id]) is not None]
    if not steps:
        return list(records)
    ids = {s.approver_id for s in steps if s.approver_id}
    ids |= {e.person_id for s in steps for e in s.escalations}
    people = {i: p for i in ids if (p := (known or {}).get(i)) is not None}
    if missing := ids - people.keys():
        people.update(get_people(conn, sorted(missing)))
    wanted = {d for p in people.values() if (d := p.delegate_on(today)) and d not in people}
    if wanted:
        people.update(get_people(conn, sorted(wanted)))
    result = []
    for record in records:
        index = currents[record.id]
        if index is None:
            result.append(record)
            continue
        step = _with_eligible(policy, record.steps[index], people, today)
        result.append(
            replace(record, steps=[*record.steps[:index], step, *record.steps[index + 1 :]])
        )
    return result


def _with_eligible(policy: Policy, step: Step, people: dict[str, Person], today: date) -> Step:
    approver = people.get(step.approver_id or "")
    delegate = people.get(approver.delegate_on(today) or "") if approver else None
    found = eligible(
        policy,
        step.tier,
        _party(approver),
        _party(delegate),
        [p for e in step.escalations if (p := _party(people.get(e.person_id)))],
    )
    return replace(step, eligible=tuple(Eligible(p.id, p.tier) for p in found))


def _party(person: Person | None) -> Party | None:
    return Party(person.id, person.tier, person.active) if person is not None else None
