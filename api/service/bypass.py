"""Submissions and revisions made around the owner: allowed only with the overrides scope and
a reason, and recorded as a `bypassed_owner` override in the same transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg

from api.errors import Forbidden, Invalid
from api.policy.decision import Decision
from api.service.parties import Parties
from api.storage import audit

if TYPE_CHECKING:
    from api.service.requests import Context
    from api.storage.requests import RequestRecord


def check_allowed(may_override: bool, reason_code: str | None, justification: str | None) -> None:
    """422 without a reason, then 403 without the overrides scope (body before permission)."""
    errors = {}
    if not reason_code:
        errors["reason_code"] = ["Required when someone other than the owner submits."]
    if not justification:
        errors["justification"] = ["Required when someone other than the owner submits."]
    if errors:
        raise Invalid("Acting around the deal's owner needs a reason.", errors)
    if not may_override:
        raise Forbidden(
            "Acting around the deal's owner needs an API key with the `overrides` scope."
        )


def record(
    conn: psycopg.Connection,
    ctx: Context,
    request: RequestRecord,
    decision: Decision,
    parties: Parties,
    reason_code: str | None,
    justification: str | None,
) -> None:
    payload: dict[str, Any] = {
        "request_id": str(request.id),
        "deal_id": request.deal_id,
        "owner_id": parties.owner.id,
        "executive_id": parties.requester.id,
        "categories": ["bypassed_owner"],
        "reason_code": reason_code,
        "outcome": decision.outcome.value,
    }
    audit.append_event(conn, "override", parties.requester.id, f"request:{request.id}", payload)
