"""The state machine as a table of (state, action, actor) -> result."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from api.errors import Conflict, Forbidden
from api.policy.loader import PolicySet
from api.policy.model import Outcome
from api.workflow.machine import Approver, act, carry_over, settle, went_up
from api.workflow.states import Action, RequestState, Step, StepState

AT = datetime(2026, 6, 1, tzinfo=UTC)
TWO = [Step("sales_director", "sd"), Step("cfo", "cfo")]
FIRST_DONE = [Step("sales_director", "sd", StepState.APPROVED, "sd", AT), Step("cfo", "cfo")]
APPROVERS = {"sd": Approver("sd", "sd.deputy", "sales_director", True), "cfo": Approver("cfo")}

TABLE = [
    # state, steps, action, actor -> new state, or the error raised
    ("pending", TWO, "approve", "sd", "pending"),
    ("pending", FIRST_DONE, "approve", "cfo", "approved"),
    ("pending", TWO, "reject", "sd", "rejected"),
    ("pending", TWO, "return", "sd", "returned"),
    ("pending", TWO, "approve", "sd.deputy", "pending"),
    ("pending", TWO, "approve", "cfo", Conflict),
    ("pending", TWO, "approve", "stranger", Forbidden),
    ("pending", TWO, "approve", "am", Forbidden),
    ("pending", TWO, "approve", "requester", Forbidden),
    ("approved", FIRST_DONE, "approve", "sd", Conflict),
    ("rejected", TWO, "approve", "sd", Conflict),
    ("returned", TWO, "approve", "sd", Conflict),
    ("withdrawn", TWO, "approve", "sd", Conflict),
    # no pending step: 409 whoever acts, approvers or not (there is no approver to check)
    ("withdrawn", TWO, "approve", "stranger", Conflict),
    ("withdrawn", TWO, "reject", "am", Conflict),
    ("denied", [], "approve", "stranger", Conflict),
    ("approved", [], "return", "stranger", Conflict),
    ("approved", FIRST_DONE, "reject", "requester", Conflict),
    ("overridden", TWO, "approve", "stranger", Conflict),
    ("stuck", [Step("cfo", None)], "approve", "stranger", Conflict),
]


@pytest.mark.parametrize(
    ("state", "steps", "action", "actor", "result"),
    TABLE,
    ids=[f"{s}-{a}-by-{who}" for s, _, a, who, _ in TABLE],
)
def test_transitions(
    shipped: PolicySet, state: str, steps: list[Step], action: str, actor: str, result: object
) -> None:
    def run() -> RequestState:
        new_state, new_steps, index = act(
            shipped.active,
            RequestState(state),
            steps,
            Action(action),
            actor,
            APPROVERS,
            owner_id="am",
            requester_id="requester",
            comment="c",
            at=AT,
        )
        assert new_steps[index].acted_by == actor
        return new_state

    if isinstance(result, type):
        with pytest.raises(result):
            run()
    else:
        assert run() == result


def test_delegate_below_the_step_tier_may_not_act(shipped: PolicySet) -> None:
    junior = {"sd": Approver("sd", "am.junior", "account_manager", True)}
    with pytest.raises(Forbidden):
        act(
            shipped.active,
            RequestState.PENDING,
            TWO,
            Action.APPROVE,
            "am.junior",
            junior,
            owner_id="am",
            requester_id="am",
            comment=None,
            at=AT,
        )


def test_settle() -> None:
    assert settle(Outcome.DENIED, TWO) == (RequestState.DENIED, None)
    assert settle(Outcome.APPROVED, []) == (RequestState.APPROVED, None)
    assert settle(Outcome.NEEDS_APPROVAL, TWO) == (RequestState.PENDING, None)
    stuck = [Step("cfo", None, stuck_reason="no active person holds tier cfo")]
    assert settle(Outcome.NEEDS_APPROVAL, stuck) == (
        RequestState.STUCK,
        "no active person holds tier cfo",
    )


def test_smart_reapproval_pieces() -> None:
    d = Decimal
    assert went_up({"a": d(10), "b": None}, {"a": d(9), "b": None}) == []
    assert went_up({"a": d(10), "b": None}, {"a": d(10), "b": d(1)}) == ["b"]
    assert went_up({"a": d(10)}, {"a": d("10.01")}) == ["a"]
    fresh = [Step("sales_director", "sd"), Step("cfo", "cfo")]
    kept = carry_over(FIRST_DONE, fresh, keep_approvals=True)
    assert [s.state for s in kept] == [StepState.APPROVED, StepState.PENDING]
    assert [s.state for s in carry_over(FIRST_DONE, fresh, keep_approvals=False)] == [
        StepState.PENDING,
        StepState.PENDING,
    ]
