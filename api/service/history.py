"""Record, as it happens, what the reports need: each ask (submission or revision) with its
levers' values and the requester's own ceilings, each step action, each withdrawal; and flag
a resubmission after the customer's no."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from api.policy.decision import Decision
from api.policy.model import Policy
from api.policy.period import fiscal_period
from api.service.context import Context
from api.storage import history
from api.storage.requests import RequestRecord
from api.workflow.customer_no import AFTER_CUSTOMER_NO, after_no_flags
from api.workflow.states import Step


def lever_values(decision: Mapping[str, Any]) -> dict[str, Decimal | None]:
    """What a decision asked, lever by lever (computed levers included)."""
    return {
        f["lever"]: (Decimal(f["value"]) if f["value"] is not None else None)
        for f in decision["findings"]
    }


def close_quarter(policy: Policy, deal: Mapping[str, Any]) -> tuple[date, int, int] | None:
    """The deal's close date and its fiscal year and quarter, when it has one."""
    text = deal.get("close_date")
    if not isinstance(text, str):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    month, start = policy.fiscal_year_start
    period = fiscal_period(day, month, start, policy.period_end_days)
    return day, period.fiscal_year, period.fiscal_quarter


def record_ask(
    conn: psycopg.Connection,
    ctx: Context,
    record: RequestRecord,
    kind: str,
    previous_deal: Mapping[str, Any] | None = None,
) -> None:
    """One ask row: for a revision, `previous_deal` is the deal it replaced (for slips)."""
    decision = record.decision
    closing = close_quarter(ctx.policy, record.deal)
    slipped = False
    if previous_deal is not None and closing is not None:
        before = close_quarter(ctx.policy, previous_deal)
        slipped = before is not None and closing[1:] > before[1:]
    period = decision["period"]
    fields = {
        "request_id": record.id,
        "deal_id": record.deal_id,
        "kind": kind,
        "owner_id": record.owner_id,
        "requester_id": decision["requester"]["id"],
        "requester_tier": decision["requester"]["tier"],
        "business_date": ctx.today,
        "created_at": ctx.now,
        "close_date": closing[0] if closing else None,
        "close_fiscal_year": closing[1] if closing else None,
        "close_fiscal_quarter": closing[2] if closing else None,
        "slipped": slipped,
        "fiscal_year": period["fiscal_year"],
        "fiscal_quarter": period["fiscal_quarter"],
        "days_to_quarter_end": period["days_to_quarter_end"],
        "flags": list(decision["flags"]),
    }
    levers = [
        (f["lever"], Decimal(f["value"]), Decimal(f["requester_ceiling"]))
        for f in decision["findings"]
        if f["value"] is not None
    ]
    history.insert_ask(conn, fields, levers)


def record_action(
    conn: psycopg.Connection, ctx: Context, record: RequestRecord, index: int, action: str
) -> None:
    step: Step = record.steps[index]
    history.insert_action(
        conn, record.id, index, step.tier, step.acted_by or "", action, step.acted_at or ctx.now
    )


def record_withdrawal(
    conn: psycopg.Connection, ctx: Context, record: RequestRecord, reason_code: str | None
) -> None:
    asked = {
        lever: (str(value) if value is not None else None)
        for lever, value in lever_values(record.decision).items()
    }
    history.insert_withdrawal(
        conn,
        {
            "request_id": record.id,
            "deal_id": record.deal_id,
            "owner_id": record.owner_id,
            "reason_code": reason_code,
            "business_date": ctx.today,
            "withdrawn_at": ctx.now,
            "asked": asked,
        },
    )


def customer_no_flags(
    conn: psycopg.Connection,
    ctx: Context,
    deal_id: str,
    decision: Decision,
    revising: RequestRecord | None = None,
) -> tuple[str, ...]:
    """The after_customer_no flags for a submission (or a revision of a request that carried
    them): within spec.customer_no_days of the deal's latest customer_declined withdrawal."""
    if revising is not None:
        if AFTER_CUSTOMER_NO not in revising.decision["flags"]:
            return ()
        since = date.min
        before = revising.created_at
    else:
        days = min(ctx.policy.customer_no_days, (ctx.today - date.min).days)
        since = ctx.today - timedelta(days=days)
        before = None
    decline = history.latest_decline(conn, deal_id, since, ctx.today, before)
    if decline is None:
        return ()
    asked = {f.lever: f.value for f in decision.findings}
    return after_no_flags(decline.values(), asked)
