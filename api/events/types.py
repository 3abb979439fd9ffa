"""The event types of DESIGN section 8, and which request state announces which event."""

from __future__ import annotations

from enum import StrEnum

from api.workflow.states import RequestState


class EventType(StrEnum):
    REQUEST_SUBMITTED = "approval_request.submitted"
    STEP_ASSIGNED = "approval_step.assigned"
    REQUEST_RETURNED = "approval_request.returned"
    REQUEST_STUCK = "approval_request.stuck"
    REQUEST_DECIDED = "approval_request.decided"
    OVERRIDE_FILED = "override.filed"
    OVERRIDE_ACKNOWLEDGED = "override.acknowledged"
    OVERRIDE_REVIEWED = "override.reviewed"
    POLICY_PUBLISHED = "policy.published"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    WEBHOOK_TEST = "webhook.test"
    STEP_REMINDER = "approval_step.reminder"
    STEP_OVERDUE = "approval_step.overdue"
    STEP_ESCALATED = "approval_step.escalated"


ALL_TYPES = tuple(t.value for t in EventType)
WILDCARD = "*"

DECIDED_STATES = frozenset(
    {
        RequestState.APPROVED,
        RequestState.REJECTED,
        RequestState.DENIED,
        RequestState.WITHDRAWN,
        RequestState.OVERRIDDEN,
    }
)


def announced_by(state: RequestState) -> EventType | None:
    """The event a request entering `state` publishes (beside `submitted` on submission)."""
    if state is RequestState.PENDING:
        return EventType.STEP_ASSIGNED
    if state is RequestState.RETURNED:
        return EventType.REQUEST_RETURNED
    if state is RequestState.STUCK:
        return EventType.REQUEST_STUCK
    if state in DECIDED_STATES:
        return EventType.REQUEST_DECIDED
    return None
