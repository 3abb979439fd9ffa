"""The JSON of a resource as `GET` returns it, shared by the HTTP views and the event `data`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.policy.decision import iso_utc
from api.storage.requests import RequestRecord
from api.workflow.machine import current_step
from api.workflow.states import Step


def request_json(record: RequestRecord) -> dict[str, Any]:
    index = current_step(record.request_state, record.steps)
    step = record.steps[index] if index is not None else None
    return {
        "id": str(record.id),
        "deal_id": record.deal_id,
        "state": record.state,
        "stuck_reason": record.stuck_reason,
        "owner": record.decision["owner"],
        "requested_by": record.decision["requester"],
        "deal": record.deal,
        "decision": record.decision,
        "steps": [step_json(s) for s in record.steps],
        "current_step": (
            {"seq": index, "tier": step.tier, "approver_id": step.approver_id}
            if step is not None and index is not None
            else None
        ),
        "policy_sha256": record.policy_sha256,
        "reason_code": record.reason_code,
        "version": record.version,
        "created_at": iso_utc(record.created_at),
        "updated_at": iso_utc(record.updated_at),
    }


def step_json(step: Step) -> dict[str, Any]:
    return {
        "tier": step.tier,
        "approver_id": step.approver_id,
        "state": step.state.value,
        "acted_by": step.acted_by,
        "acted_at": _at(step.acted_at),
        "comment": step.comment,
        "assigned_at": _at(step.assigned_at),
        "due_at": _at(step.due_at),
        "eligible": [{"id": e.id, "tier": e.tier} for e in step.eligible],
        "escalations": [{"person_id": e.person_id, "at": iso_utc(e.at)} for e in step.escalations],
    }


def _at(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment is not None else None
