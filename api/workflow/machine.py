"""The approval state machine: the state a request is in, who may act, and re-approval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from api.errors import Conflict, Forbidden
from api.policy.model import Outcome, Policy
from api.workflow.states import STEP_AFTER, Action, RequestState, Step, StepState


@dataclass(frozen=True, slots=True)
class Approver:
    """A step's approver as the machine needs them: their delegate today, if any."""

    id: str
    delegate_id: str | None = None
    delegate_tier: str | None = None
    delegate_active: bool = False


def settle(outcome: Outcome, steps: Sequence[Step]) -> tuple[RequestState, str | None]:
    """The state a request is in, given its decision and steps."""
    if outcome is Outcome.DENIED:
        return RequestState.DENIED, None
    stuck = next((s for s in steps if s.state is StepState.PENDING and s.approver_id is None), None)
    if stuck is not None:
        return RequestState.STUCK, stuck.stuck_reason
    if any(s.state is StepState.PENDING for s in steps):
        return RequestState.PENDING, None
    return RequestState.APPROVED, None


def current_step(state: RequestState, steps: Sequence[Step]) -> int | None:
    """Index of the step that may be acted on now (the first pending), if the request is pending."""
    if state is not RequestState.PENDING:
        return None
    return next((i for i, s in enumerate(steps) if s.state is StepState.PENDING), None)


def may_act_on(policy: Policy, step: Step, actor_id: str, approver: Approver | None) -> bool:
    """The step's approver, a manager it was escalated to, or the approver's active delegate
    whose tier reaches the step's tier."""
    if step.approver_id is None:
        return False
    if actor_id == step.approver_id or any(e.person_id == actor_id for e in step.escalations):
        return True
    if approver is None or approver.delegate_id != actor_id or not approver.delegate_active:
        return False
    tier = approver.delegate_tier
    return tier in policy.ranks and policy.rank(tier) >= policy.rank(step.tier)  # type: ignore[arg-type]


def act(
    policy: Policy,
    state: RequestState,
    steps: Sequence[Step],
    action: Action,
    actor_id: str,
    approvers: Mapping[str, Approver],
    *,
    owner_id: str,
    requester_id: str,
    comment: str | None,
    at: datetime,
) -> tuple[RequestState, list[Step], int]:
    """Apply an approver's action. 409 when no step is pending, whoever acts (there is no
    approver to check); then 403 for someone who may not act; then 409 out of turn.

    Returns the new state, the new steps and the index of the step acted on.
    """
    index = current_step(state, steps)
    if index is None:
        raise Conflict(f"The request is {state.value}; it has no step waiting for action.")
    if actor_id in (owner_id, requester_id):
        raise Forbidden("The owner and the requester can never act on their own request.")
    eligible = [
        i
        for i, s in enumerate(steps)
        if may_act_on(policy, s, actor_id, approvers.get(s.approver_id or ""))
    ]
    if not eligible:
        raise Forbidden(f"{actor_id!r} is not an approver (or their delegate) on this request.")
    if index not in eligible:
        raise Conflict(
            f"Step {index + 1} ({steps[index].tier}) must be acted on first; "
            f"{actor_id!r} acts on a later step."
        )
    acted = replace(
        steps[index], state=STEP_AFTER[action], acted_by=actor_id, acted_at=at, comment=comment
    )
    new_steps = [*steps[:index], acted, *steps[index + 1 :]]
    if action is Action.REJECT:
        return RequestState.REJECTED, new_steps, index
    if action is Action.RETURN:
        return RequestState.RETURNED, new_steps, index
    new_state, _ = settle(Outcome.NEEDS_APPROVAL, new_steps)
    return new_state, new_steps, index


def went_up(before: Mapping[str, Decimal | None], after: Mapping[str, Decimal | None]) -> list[str]:
    """Levers whose value rose (or appeared) between two versions of a deal."""
    risen = []
    for lever, value in after.items():
        old = before.get(lever)
        if value is not None and (old is None or value > old):
            risen.append(lever)
    return risen


def carry_over(
    old_steps: Sequence[Step], fresh: Sequence[Step], *, keep_approvals: bool
) -> list[Step]:
    """Smart re-approval: reuse an approved step of the same tier when approvals may be kept."""
    if not keep_approvals:
        return list(fresh)
    approved = {s.tier: s for s in old_steps if s.state is StepState.APPROVED}
    return [approved.get(step.tier, step) for step in fresh]


def acting_as(step: Step, actor_id: str) -> str:
    """In what capacity someone the machine let act did so, for the audit trail."""
    if actor_id == step.approver_id:
        return "approver"
    if any(e.person_id == actor_id for e in step.escalations):
        return "escalated_manager"
    return "delegate"
