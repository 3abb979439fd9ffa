"""My approvals: the steps the signed-in person may act on now (as approver, delegate or
escalated manager), soonest due first, overdue marked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.console.acting import ACT_SCOPE, person_of
from api.console.blueprint import bp, needs, page, user
from api.http.context import runtime
from api.storage import inbox
from api.storage.database import transaction

ASKED = ("needs_approval", "beyond_authority", "beyond_absolute_max")


def asked(findings: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The findings that made the request need approval (those beyond the requester)."""
    return [f for f in findings or () if f.get("status") in ASKED]


def overdue(row: inbox.Waiting, now: datetime) -> bool:
    """Past its due time (DESIGN 14); a step without one (no SLA) never is."""
    return row.due_at is not None and row.due_at <= now


@bp.route("/approvals")
@needs(ACT_SCOPE)
def approvals() -> str:
    me = user()
    person = person_of(me, "My approvals")
    rt = runtime()
    policy = rt.policies.active
    with transaction(rt.pool) as conn:
        rows = inbox.my_approvals(conn, person, rt.today(), policy.tiers)
    now = rt.now()
    return page(
        "console/approvals.html",
        title="My approvals",
        me=me,
        rows=[(r, asked(r.findings), overdue(r, now)) for r in rows],
        limit=inbox.INBOX_LIMIT,
    )
