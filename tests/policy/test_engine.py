"""The engine against the shipped policy: both sides of every ceiling, every rule effect."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from api.policy.decision import Party
from api.policy.engine import evaluate
from api.policy.loader import PolicySet

AM = Party("am.jones", "account_manager")
MID_QUARTER = date(2026, 6, 10)  # FY2027 Q2, 51 days before quarter end
YEAR_END = date(2027, 1, 20)  # FY2027 Q4, 11 days before year end
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def run(
    shipped: PolicySet,
    requester: Party = AM,
    owner: Party = AM,
    today: date = MID_QUARTER,
    delegate: str | None = None,
    **fields: Any,
) -> Any:
    deal = {
        "deal_id": "Q-1",
        "owner_id": owner.id,
        "currency": "USD",
        "list_amount": Decimal("80000"),
        **fields,
    }
    return evaluate(
        shipped.active,
        deal,
        requester,
        owner,
        today=today,
        now=NOW,
        decision_id="d-1",
        owner_delegate_id=delegate,
    )


def d(text: str) -> Decimal:
    return Decimal(text)


LADDER = [
    # (lever, value, outcome, required tiers, lever status)
    ("discount_pct", "10", "approved", [], "within"),
    ("discount_pct", "10.01", "needs_approval", ["sales_manager"], "needs_approval"),
    ("discount_pct", "15", "needs_approval", ["sales_manager"], "needs_approval"),
    ("discount_pct", "15.01", "needs_approval", ["sales_director"], "needs_approval"),
    ("discount_pct", "20", "needs_approval", ["sales_director"], "needs_approval"),
    ("discount_pct", "20.01", "needs_approval", ["vp_sales"], "needs_approval"),
    ("discount_pct", "30", "needs_approval", ["vp_sales"], "needs_approval"),
    ("discount_pct", "30.01", "needs_approval", ["cfo"], "needs_approval"),
    ("discount_pct", "40", "needs_approval", ["cfo"], "needs_approval"),
    ("discount_pct", "40.01", "needs_approval", ["ceo"], "needs_approval"),
    ("discount_pct", "50", "needs_approval", ["ceo"], "needs_approval"),
    ("discount_pct", "50.01", "denied", [], "beyond_authority"),
    ("discount_pct", "60", "denied", [], "beyond_authority"),
    ("discount_pct", "60.01", "denied", [], "beyond_absolute_max"),
    ("rebate_pct", "0", "approved", [], "within"),
    ("rebate_pct", "0.01", "needs_approval", ["sales_director"], "needs_approval"),
    ("rebate_pct", "2", "needs_approval", ["sales_director"], "needs_approval"),
    ("rebate_pct", "2.01", "needs_approval", ["vp_sales"], "needs_approval"),
    ("rebate_pct", "5", "needs_approval", ["vp_sales"], "needs_approval"),
    ("rebate_pct", "5.01", "denied", [], "beyond_authority"),
    ("rebate_pct", "10.01", "denied", [], "beyond_absolute_max"),
    ("payment_terms_days", "30", "approved", [], "within"),
    ("payment_terms_days", "31", "needs_approval", ["sales_director"], "needs_approval"),
    ("payment_terms_days", "60", "needs_approval", ["sales_director"], "needs_approval"),
    ("payment_terms_days", "61", "needs_approval", ["cfo"], "needs_approval"),
    ("payment_terms_days", "90", "needs_approval", ["cfo"], "needs_approval"),
    ("payment_terms_days", "91", "denied", [], "beyond_authority"),
    ("payment_terms_days", "120.5", "denied", [], "beyond_absolute_max"),
]


@pytest.mark.parametrize(
    ("lever", "value", "outcome", "tiers", "status"),
    LADDER,
    ids=[f"{lv}={v}" for lv, v, *_ in LADDER],
)
def test_every_ceiling_on_both_sides(
    shipped: PolicySet, lever: str, value: str, outcome: str, tiers: list[str], status: str
) -> None:
    decision = run(shipped, **{lever: d(value)})
    assert decision.outcome == outcome
    assert list(decision.required_tiers) == tiers
    assert decision.finding(lever).status == status
    assert decision.finding(lever).value == d(value)


def test_finding_explains_value_ceiling_headroom_and_tier(shipped: PolicySet) -> None:
    finding = run(shipped, discount_pct=d("18")).finding("discount_pct")
    assert finding.as_dict() == {
        "lever": "discount_pct",
        "value": "18",
        "requester_ceiling": "10",
        "required_tier": "sales_director",
        "status": "needs_approval",
        "headroom": "-8",
        "reason": "18 is above account_manager's ceiling of 10 and within sales_director's 20.",
    }


def test_every_lever_has_a_finding_and_omitted_ones_are_not_requested(shipped: PolicySet) -> None:
    decision = run(shipped, discount_pct=d("5"))
    assert [f.lever for f in decision.findings] == [
        "discount_pct",
        "rebate_pct",
        "payment_terms_days",
        "effective_discount_pct",
    ]
    rebate = decision.finding("rebate_pct")
    assert (rebate.status, rebate.value, rebate.headroom, rebate.required_tier) == (
        "not_requested",
        None,
        None,
        None,
    )
    effective = decision.finding("effective_discount_pct")
    assert effective.status == "not_requested"
    assert effective.reason == (
        "effective_discount_pct is not computed because the deal does not "
        "set payment_terms_days, rebate_pct."
    )


@pytest.mark.parametrize(
    ("rebate", "terms", "value", "status", "tiers"),
    [
        ("2", "30", "12", "within", ["sales_director"]),
        ("2.01", "30", "12.01", "needs_approval", ["vp_sales"]),
        ("0", "60", "10.8219178082", "within", ["sales_director"]),
    ],
    ids=["effective-at-am-ceiling", "effective-just-above", "terms-cost-computed"],
)
def test_computed_lever(
    shipped: PolicySet, rebate: str, terms: str, value: str, status: str, tiers: list[str]
) -> None:
    decision = run(shipped, discount_pct=d("10"), rebate_pct=d(rebate), payment_terms_days=d(terms))
    effective = decision.finding("effective_discount_pct")
    assert (str(effective.value), effective.status) == (value, status)
    assert list(decision.required_tiers) == tiers


def test_requester_with_more_authority_approves_within_own_ceiling(shipped: PolicySet) -> None:
    director = Party("sd.patel", "sales_director")
    decision = run(shipped, requester=director, owner=director, discount_pct=d("18"))
    assert decision.outcome == "approved"
    finding = decision.finding("discount_pct")
    assert (finding.status, finding.required_tier, str(finding.headroom)) == (
        "within",
        "sales_director",
        "2",
    )
    assert finding.reason == "18 is within sales_director's ceiling of 20."


@pytest.mark.parametrize(
    ("amount", "tiers"), [("999999.99", []), ("1000000", ["cfo"])], ids=["below-1M", "at-1M"]
)
def test_require_rule_adds_a_tier(shipped: PolicySet, amount: str, tiers: list[str]) -> None:
    decision = run(shipped, list_amount=d(amount))
    assert list(decision.required_tiers) == tiers
    assert [r.name for r in decision.rules] == (["large-deal-cfo"] if tiers else [])


@pytest.mark.parametrize(
    ("discount", "status", "tiers", "reason"),
    [
        ("5", "within", [], "5 is within account_manager's ceiling of 5."),
        (
            "5.01",
            "needs_approval",
            ["vp_sales"],
            "5.01 is above account_manager's ceiling of 5 and within vp_sales's 15.",
        ),
        (
            "15",
            "needs_approval",
            ["vp_sales"],
            "15 is above account_manager's ceiling of 5 and within vp_sales's 15.",
        ),
        (
            "15.01",
            "beyond_authority",
            [],
            "15.01 is above every tier's ceiling (the highest is ceo's 15); no one may approve it.",
        ),
    ],
    ids=["at-am-cap", "above-am-cap-goes-to-vp", "at-vp-cap", "above-every-cap"],
)
def test_ceilings_rule_tightens_as_a_ladder(
    shipped: PolicySet, discount: str, status: str, tiers: list[str], reason: str
) -> None:
    decision = run(shipped, discount_pct=d(discount), account={"segment": "public_sector"})
    finding = decision.finding("discount_pct")
    assert (finding.status, finding.reason) == (status, reason)
    assert list(decision.required_tiers) == tiers
    assert decision.rules[0].as_dict() == {
        "name": "public-sector",
        "effects": ["ceilings"],
        "because": "Public-sector price rules cap discounts.",
    }


def test_period_end_rule_only_in_the_window(shipped: PolicySet) -> None:
    inside = run(shipped, today=YEAR_END, discount_pct=d("16"))
    outside = run(shipped, discount_pct=d("16"))
    assert list(inside.required_tiers) == ["sales_director", "vp_sales"]
    assert list(outside.required_tiers) == ["sales_director"]
    assert inside.period.as_dict() == {
        "fiscal_year": 2027,
        "fiscal_quarter": 4,
        "days_to_quarter_end": 11,
        "days_to_year_end": 11,
        "is_quarter_end": True,
        "is_year_end": True,
    }


def test_deny_rule(shipped: PolicySet) -> None:
    denied = run(shipped, today=YEAR_END, special_billing=True)
    allowed = run(shipped, special_billing=True)
    assert denied.outcome == "denied" and allowed.outcome == "approved"
    assert denied.rules[0].as_dict() == {
        "name": "no-special-billing-at-year-end",
        "effects": ["deny"],
        "because": "Special billing arrangements are not granted in the year-end window.",
    }


def test_flag_rule_and_requester_not_owner(shipped: PolicySet) -> None:
    manager = Party("sm.lee", "sales_manager")
    decision = run(
        shipped, requester=manager, close_date="2026-12-29", customer_target_date="2027-02-15"
    )
    assert list(decision.flags) == ["seller_timeline", "requester_not_owner"]
    delegated = run(shipped, requester=manager, delegate="sm.lee")
    assert list(delegated.flags) == []


def test_decision_as_dict_has_the_contract_shape(shipped: PolicySet) -> None:
    body = run(shipped, discount_pct=d("18")).as_dict()
    assert list(body) == [
        "decision_id",
        "outcome",
        "requester",
        "owner",
        "required_tiers",
        "findings",
        "rules",
        "flags",
        "errors",
        "period",
        "policy",
        "evaluated_at",
    ]
    assert body["policy"] == {
        "name": "deal-authority",
        "version": "2026.11.0",
        "sha256": shipped.active.sha256,
    }
    assert body["evaluated_at"] == "2026-06-10T12:00:00Z"
