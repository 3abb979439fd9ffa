"""Acting around the deal's owner: submitting or revising for them writes an override.

The requests service checks it is allowed before it evaluates, and files the override row
after the request is recorded."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import psycopg

from api.errors import Forbidden, Invalid
from api.policy.decision import Party
from api.policy.engine import Assessment
from api.policy.model import Policy
from api.service import overrides
from api.service.context import Context
from api.storage import overrides as store
from api.storage.people import manager_chain
from api.storage.requests import RequestRecord
from api.workflow.overrides import Category, excesses


def check_bypass_allowed(
    policy: Policy,
    requester: Party,
    may_override: bool,
    reason_code: str | None,
    justification: str | None,
) -> None:
    """Acting around the owner writes an override: 422 without a reason, then 403 without
    the overrides scope, then 403 below `overrides.min_tier` (it binds every override)."""
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
    overrides.check_min_tier(policy, requester.id, requester.tier)


def bypass(
    conn: psycopg.Connection,
    ctx: Context,
    request: RequestRecord,
    assessment: Assessment,
    before: Mapping[str, Decimal | None],
    reason_code: str,
    justification: str,
    deal: Mapping[str, Any],
) -> store.OverrideRecord:
    """The override row for a submission or revision made around the owner."""
    decision = assessment.decision
    categories = [Category.BYPASSED_OWNER]
    if decision.outcome.value == "denied":
        categories.append(Category.BEYOND_POLICY)
    if decision.requester.id not in {p.id for p in manager_chain(conn, decision.owner.id)}:
        categories.append(Category.OUT_OF_CHAIN)
    found = excesses(ctx.policy, assessment, decision.requester.tier)
    record, _ = overrides.write(
        conn,
        ctx,
        assessment,
        request_id=request.id,
        deal=deal,
        categories=sorted(categories),
        before=before,
        reason_code=reason_code,
        justification=justification,
        excess=found,
    )
    return record
