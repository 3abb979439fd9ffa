"""Who is mailed about an event (DESIGN section 14): one function, `recipients`.

- `approval_step.assigned`, `.reminder`, `.overdue`: everyone `eligible` on the current step
  (read from the step in the event's data; before steps carried `eligible`, the step's
  approver and their active delegate), each with their own action link;
- `approval_step.escalated` from the second escalation on: only the manager it was just
  escalated to (the last of the step's `escalations`), with their own action link, so a
  manager reached by a later escalation learns that the step now waits for them too. The
  first escalation falls at `due_at` with the overdue notice, which already lists that
  manager as eligible and mails them their own link: one mail, not two at once;
- `approval_request.returned`: the owner; `approval_request.decided`: the owner and the
  requester; `override.filed` with `bypassed_owner`: the owner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STEP_EVENTS = frozenset(
    {"approval_step.assigned", "approval_step.reminder", "approval_step.overdue"}
)
ESCALATED = "approval_step.escalated"
ACTION_EVENTS = STEP_EVENTS | {ESCALATED}
"""Step mails: each recipient gets their own one-click action link."""
RETURNED = "approval_request.returned"
DECIDED = "approval_request.decided"
OVERRIDE_FILED = "override.filed"
MAILED = ACTION_EVENTS | {RETURNED, DECIDED, OVERRIDE_FILED}
BYPASSED_OWNER = "bypassed_owner"


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: str
    step_seq: int | None = None
    """The step this person may act on from the mail (their own link); None: no link."""
    delegate: bool = False
    """True: not `person_id` but their active delegate, if they have one on the event's day
    (resolved against the registry where the notification is written, in the same statement)."""


def recipients(event_type: str, data: Mapping[str, Any]) -> list[Recipient]:
    """In a stable order, each person once."""
    if event_type in STEP_EVENTS:
        found = current_step(data)
        if found is None:
            return []
        seq, step = found
        listed = step.get("eligible")
        if isinstance(listed, list):
            ids = [e.get("id") for e in listed if isinstance(e, Mapping)]
            return [Recipient(p, seq) for p in _unique(ids)]
        approver = step.get("approver_id")
        if not isinstance(approver, str) or not approver:
            return []
        return [Recipient(approver, seq), Recipient(approver, seq, delegate=True)]
    if event_type == ESCALATED:
        return _escalated_to(data)
    if event_type == RETURNED:
        return [Recipient(p) for p in _unique([_id(data.get("owner"))])]
    if event_type == DECIDED:
        ids = [_id(data.get("owner")), _id(data.get("requested_by"))]
        return [Recipient(p) for p in _unique(ids)]
    if event_type == OVERRIDE_FILED and BYPASSED_OWNER in (data.get("categories") or ()):
        return [Recipient(p) for p in _unique([_id(data.get("owner"))])]
    return []


def _escalated_to(data: Mapping[str, Any]) -> list[Recipient]:
    found = current_step(data)
    if found is None:
        return []
    seq, step = found
    escalations = step.get("escalations")
    if not isinstance(escalations, list) or len(escalations) < 2:
        return []  # the first manager reached was mailed with the overdue notice
    last = escalations[-1]
    manager = last.get("person_id") if isinstance(last, Mapping) else None
    return [Recipient(p, seq) for p in _unique([manager])]


def current_step(data: Mapping[str, Any]) -> tuple[int, Mapping[str, Any]] | None:
    """The step waiting for action, as (index, step JSON), from an ApprovalRequest's JSON."""
    current = data.get("current_step")
    steps = data.get("steps") or []
    if not isinstance(current, Mapping) or not isinstance(current.get("seq"), int):
        return None
    seq = current["seq"]
    if not 0 <= seq < len(steps):
        return None
    return seq, steps[seq]


def _id(party: Any) -> str | None:
    if isinstance(party, Mapping):
        value = party.get("id")
        return value if isinstance(value, str) else None
    return party if isinstance(party, str) else None


def _unique(ids: Sequence[Any]) -> list[str]:
    seen: list[str] = []
    for person_id in ids:
        if isinstance(person_id, str) and person_id and person_id not in seen:
            seen.append(person_id)
    return seen
