"""`make run` only (`dealdesk serve --demo`, first run): a few fiscal quarters of history in
which every report of DESIGN section 9 shows its pattern. Deterministic (one seeded random).

- demo.am.hugger asks just under their own discount ceiling again and again;
- asks crowd into the last days of each quarter, deeper than the rest of the quarter;
- demo.vp_sales.outside, an executive from another region, rescues deals around their
  owners, most of all at quarter end (and now and then mid-quarter, this quarter included),
  and demo.ceo now and then; demo.vp_sales, the executive who coaches, returns most asks that
  reach them, as demo.sales_manager does, and the owner revises;
- demo.am.slipper sets close dates ahead of the customer's and slips them a quarter;
- a deal the customer declined is pushed again, deeper, three weeks later.

Every row is dated by the story's clock (09:00 UTC on its day, plus minutes), overrides
included, so a `from`/`to` filter and the fiscal period agree. The audit chain alone keeps
the real time of the seeding: it records when rows were written.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from api.errors import DealdeskError
from api.policy.engine import period_of
from api.policy.model import Policy
from api.service import overrides, request_actions, requests
from api.service.context import Context
from api.service.people import put_person
from api.storage import overrides as override_store
from api.storage.requests import RequestRecord
from api.workflow.states import Action, RequestState

DAYS = 300
WHY = "Quarter-end commit: the customer signs this week only at these terms."
WHY_MID = "Competitive displacement: the rival's quote is lower and the logo matters to us."
REQUIRED_LEVERS = ("discount_pct", "payment_terms_days")
REPS = ("demo.am.hugger", "demo.am.slipper", "demo.am.steady")


def demo_reps(policy: Policy) -> list[tuple[str, dict[str, object]]]:
    """Three more account managers beside demo.<lowest tier>, under the same manager."""
    lowest, manager = policy.tiers[0], f"demo.{policy.tiers[1]}"
    return [
        (rep, {"name": rep.split(".")[-1].title(), "tier": lowest, "manager_id": manager})
        for rep in REPS
    ]


def seed_history(conn: psycopg.Connection, policy: Policy, today: date) -> int:
    """Seed DAYS business days of asks, actions, overrides and withdrawals up to `today`.
    Returns the number of submissions; 0 (nothing seeded) for a policy without the levers
    or tiers the story needs."""
    tiers = policy.tiers
    if not all(lever in policy.lever_names for lever in REQUIRED_LEVERS) or len(tiers) < 4:
        return 0
    for person_id, body in demo_reps(policy):
        put_person(conn, policy, person_id, body, "system:demo-seed")
    rng = random.Random(2027)  # noqa: S311 (demo data, not secrets)
    count, asked = 0, dict.fromkeys(REPS, 0)
    for offset in range(DAYS, -1, -1):
        day = today - timedelta(days=offset)
        ctx = _context(policy, day)
        to_go = period_of(policy, day).days_to_quarter_end
        per_day = 4 if to_go < 7 else 2 if to_go < 14 else 1
        for _ in range(per_day):
            count += 1
            _one_deal(conn, ctx, rng, count, to_go, asked)
    _pushed_after_no(conn, policy, today)
    return count


def _context(policy: Policy, day: date, minute: int = 0) -> Context:
    now = datetime.combine(day, time(9, 0), UTC) + timedelta(minutes=minute)
    return Context(policy, day, now, "system:demo-seed", True)


def _deal(deal_id: str, owner: str, rng: random.Random, **fields: Any) -> dict[str, Any]:
    amount = Decimal(rng.randrange(40, 900) * 1000)
    return {
        "deal_id": deal_id,
        "owner_id": owner,
        "currency": "USD",
        "list_amount": amount,
        "payment_terms_days": Decimal(30),
        **fields,
    }


def _one_deal(
    conn: psycopg.Connection,
    ctx: Context,
    rng: random.Random,
    n: int,
    to_go: int,
    asked: dict[str, int],
) -> None:
    """One deal: submitted, then coached, approved, slipped or rescued. `asked` counts each
    owner's deals, so the others' discounts spread evenly (3 .. 24.9, in 0.1 steps)."""
    owner = rng.choice(("demo.am.hugger", "demo.am.slipper", "demo.am.steady", _lowest(ctx)))
    asked[owner] = asked.get(owner, 0) + 1
    rush = Decimal(6) if to_go < 7 else Decimal(0)
    if owner == "demo.am.hugger":
        discount = Decimal(rng.choice(("9", "9.5", "9.75", "10", "10", "10"))) + rush
    else:
        discount = Decimal(30 + asked[owner] * 97 % 220) / 10 + rush
    fields: dict[str, Any] = {"discount_pct": discount}
    quarter_end = ctx.today + timedelta(days=to_go)
    if owner == "demo.am.slipper":
        fields["close_date"] = quarter_end.isoformat()
        fields["customer_target_date"] = (quarter_end + timedelta(days=45)).isoformat()
    deal = _deal(f"DEMO-{n:04d}", owner, rng, **fields)
    record = requests.submit(conn, ctx, deal, owner, None, None)
    if record.request_state is not RequestState.PENDING:
        return
    if owner == "demo.am.slipper" and rng.random() < 0.6:
        later = {**deal, "close_date": (quarter_end + timedelta(days=20)).isoformat()}
        record = requests.revise(conn, _later(ctx, 30), record, owner, later, None, None, None)
    if rng.random() < (0.5 if to_go < 14 else 0.12):
        deeper = discount + Decimal(rng.choice((5, 10, 15)))
        _rescue(conn, _later(ctx, 60), rng, record, min(deeper, Decimal(55)))
    elif rng.random() < _coaching(ctx, record):
        record = _act(conn, _later(ctx, 60), record, Action.RETURN)
        cut = Decimal(rng.choice((4, 6, 8)))  # coached well below the ceiling, not onto it
        lower = {**deal, "discount_pct": max(Decimal(0), discount - cut)}
        record = requests.revise(conn, _later(ctx, 90), record, owner, lower, None, None, None)
        _settle(conn, _later(ctx, 120), record)
    else:
        _settle(conn, _later(ctx, 60), record)


def _coaching(ctx: Context, record: RequestRecord) -> float:
    """How often the current step's approver returns with coaching: the first executive tier
    (demo.vp_sales) most of the time, the others a third of the time."""
    step = next(s for s in record.steps if s.state.value == "pending")
    return 0.6 if step.tier == ctx.policy.override_min_tier else 0.35


def _later(ctx: Context, minutes: int) -> Context:
    return replace(ctx, now=ctx.now + timedelta(minutes=minutes))


def _lowest(ctx: Context) -> str:
    return f"demo.{ctx.policy.tiers[0]}"


def _act(
    conn: psycopg.Connection, ctx: Context, record: RequestRecord, action: Action
) -> RequestRecord:
    step = next(s for s in record.steps if s.state.value == "pending")
    comment = "Lead with a multi-year term before a deeper discount."
    return request_actions.act_on(conn, ctx, record, action, step.approver_id or "", comment, None)


def _settle(conn: psycopg.Connection, ctx: Context, record: RequestRecord) -> None:
    """Approve step by step while a step waits."""
    while record.request_state is RequestState.PENDING:
        record = _act(conn, ctx, record, Action.APPROVE)


def _rescue(
    conn: psycopg.Connection,
    ctx: Context,
    rng: random.Random,
    record: RequestRecord,
    discount: Decimal,
) -> None:
    """An executive grants more than the owner asked, around them: the executive from
    another region three times in four (beyond their own ceiling too, at times), else the
    top of the chain (demo.ceo)."""
    policy = ctx.policy
    outside = f"demo.{policy.override_min_tier or policy.tiers[-1]}.outside"
    executive = outside if rng.random() < 0.75 else f"demo.{policy.tiers[-1]}"
    late = period_of(policy, ctx.today).is_period_end
    reason, why = ("period_end_commit", WHY) if late else ("competitive_displacement", WHY_MID)
    terms = {"discount_pct": discount}
    body = overrides.OverrideInput(executive, record.id, None, terms, reason, why)
    try:
        made = overrides.create(conn, ctx, body)
    except DealdeskError:  # beyond an absolute maximum or their own: approve what is there
        _settle(conn, ctx, record)
    else:
        override_store.restamp(conn, made.id, ctx.now)


def _pushed_after_no(conn: psycopg.Connection, policy: Policy, today: date) -> None:
    """DEMO-NO-1: declined by the customer, pushed again three weeks later, deeper."""
    rng = random.Random(1)  # noqa: S311
    owner = f"demo.{policy.tiers[0]}"
    first_day = today - timedelta(days=40)
    deal = _deal("DEMO-NO-1", owner, rng, discount_pct=Decimal(14))
    ctx = _context(policy, first_day, 600)
    record = requests.submit(conn, ctx, deal, owner, None, None)
    reason = "The customer said no: budget moved to next year."
    request_actions.withdraw(conn, _later(ctx, 1), record, owner, reason, None, "customer_declined")
    deeper = {**deal, "discount_pct": Decimal(18)}
    requests.submit(
        conn, _context(policy, first_day + timedelta(days=21), 600), deeper, owner, None, None
    )
