"""Request and step states, and the actions that move them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RequestState(StrEnum):
    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    DENIED = "denied"
    OVERRIDDEN = "overridden"
    STUCK = "stuck"


class StepState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"


OPEN_STATES = frozenset({RequestState.PENDING, RequestState.RETURNED, RequestState.STUCK})
"""At most one request per deal may be in one of these states."""

FINAL_STATES = frozenset({RequestState.WITHDRAWN, RequestState.OVERRIDDEN})
"""Nothing moves a request out of these."""

STEP_AFTER = {
    Action.APPROVE: StepState.APPROVED,
    Action.REJECT: StepState.REJECTED,
    Action.RETURN: StepState.RETURNED,
}


@dataclass(frozen=True, slots=True)
class Escalation:
    """A manager a step was escalated to (DESIGN 14), and when."""

    person_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Eligible:
    """Someone who may act on the current step now."""

    id: str
    tier: str


@dataclass(frozen=True, slots=True)
class Step:
    tier: str
    approver_id: str | None
    state: StepState = StepState.PENDING
    acted_by: str | None = None
    acted_at: datetime | None = None
    comment: str | None = None
    stuck_reason: str | None = None
    assigned_at: datetime | None = None
    """When the step became the current one; None until then."""
    due_at: datetime | None = None
    escalations: tuple[Escalation, ...] = ()
    sla_stage: int = 0
    """How many SLA stages (reminder, overdue, escalations) have fired."""
    sla_next_at: datetime | None = None
    """When the next stage falls due; None when nothing more will happen."""
    eligible: tuple[Eligible, ...] = ()
    """Who may act now (read, never stored); empty unless the step is the current one."""
