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
class Step:
    tier: str
    approver_id: str | None
    state: StepState = StepState.PENDING
    acted_by: str | None = None
    acted_at: datetime | None = None
    comment: str | None = None
    stuck_reason: str | None = None
