"""The JSON of a resource as `GET` returns it, shared by the HTTP views and the event `data`."""

from __future__ import annotations

from typing import Any

from api.policy.decision import iso_utc
from api.storage.requests import RequestRecord
from api.workflow.machine import current_step


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
        "steps": [
            {
                "tier": s.tier,
                "approver_id": s.approver_id,
                "state": s.state.value,
                "acted_by": s.acted_by,
                "acted_at": iso_utc(s.acted_at) if s.acted_at else None,
                "comment": s.comment,
            }
            for s in record.steps
        ],
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
