"""The engine with its per-policy plan and caches decides exactly as the engine did before it
(tests/policy/reference_engine.py): the same Decision and Assessment, down to how every
Decimal is written, over generated deals on the shipped policy and on policies built to hit
every path (tightening, computed levers, errors, the CEL library), first with empty caches
and then again with full ones."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from api.policy import plan as plan_module
from api.policy.decision import Party
from api.policy.engine import assess, evaluate
from api.policy.loader import load_policy_dir, parse_policy
from api.policy.model import Policy
from api.policy.plan import VALUES_KEPT, plan_of
from tests.policy.reference_engine import assess_reference

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
MISSING = object()
NUMBERS: list[Any] = [
    *(Decimal(t) for t in ("0", "-0", "0.00", "5", "10", "10.0", "1E+1", "10.01", "12", "15")),
    *(Decimal(t) for t in ("18", "18.0", "18.000", "1.8E+1", "20", "25.5", "30", "45", "50")),
    *(Decimal(t) for t in ("55.5", "60", "61", "90", "120", "1e-10", "2.5E-3", "-3", "7.25")),
    Decimal("12345678901234567890.123"),
    *(12, 0, 30, "12.5", " 7 ", "abc", "", 3.5, True, None, MISSING),
]
TEXTS: dict[str, list[Any]] = {
    "account": [MISSING, {}, {"segment": "public_sector"}, {"segment": "enterprise"}, "acme"],
    "attributes": [
        MISSING,
        {},
        {"services_credit": Decimal("500")},
        {"services_credit": Decimal("4000.5")},
        {"services_credit": None},
        {"services_credit": "lots"},
    ],
    "region": [MISSING, "emea", "apac", "na", 3],
    "special_billing": [MISSING, True, False],
    "no_such_field": [MISSING, Decimal("2"), Decimal("0.5"), "x"],
    "score": [MISSING, True, False, "yes", Decimal("1")],
    "label": [MISSING, "gold", Decimal("3"), True, Decimal("1")],
    "flagged": [MISSING, True],
    "close_date": [MISSING, "2026-12-29"],
    "customer_target_date": [MISSING, "2027-02-15", "2026-01-01"],
}
AMOUNTS = [Decimal(t) for t in ("80000", "40000", "999999.99", "1000000", "2500000", "0.01")]
DATES = [date(2026, 6, 10), date(2026, 12, 29), date(2027, 1, 20), date(2026, 4, 25)]
IDS = ["a.one", "b.two", "c.three"]


def policies() -> dict[str, Callable[[], Policy]]:
    """Each policy is parsed afresh per test, so its plan starts with empty caches."""

    def shipped() -> Policy:
        return load_policy_dir(ROOT / "policies").active

    def from_file(name: str) -> Callable[[], Policy]:
        return lambda: parse_policy((HERE / "plans" / name).read_bytes(), name)

    return {"shipped": shipped, "wide": from_file("wide.yaml"), "odd": from_file("odd.yaml")}


def deals(policy: Policy, count: int, seed: int) -> list[dict[str, Any]]:
    """Deal requests (deal, requester, owner, today, delegate) drawn from small pools, so
    values repeat the way real deals repeat them."""
    rng = random.Random(seed)
    levers = [lever.name for lever in policy.levers if lever.compute is None]
    cases = []
    for _ in range(count):
        deal: dict[str, Any] = {"deal_id": "Q-1", "currency": "USD"}
        deal["list_amount"] = rng.choice(AMOUNTS)
        for name in levers:
            deal[name] = rng.choice(NUMBERS)
        for name, pool in TEXTS.items():
            deal[name] = rng.choice(pool)
        deal = {k: v for k, v in deal.items() if v is not MISSING}
        tiers = [*policy.tiers] * 20 + ["nobody"]  # an unknown tier now and then
        requester = Party(rng.choice(IDS), rng.choice(tiers))
        owner = Party(rng.choice(IDS), rng.choice(policy.tiers))
        delegate = rng.choice([None, None, requester.id])
        cases.append(
            {"deal": deal, "requester": requester, "owner": owner, "today": rng.choice(DATES)}
            | {"delegate": delegate}
        )
    return cases


def outcome(decide: Callable[[], Any]) -> tuple[str, ...]:
    """The result as text that shows every field and how every Decimal is written, or the
    exception raised."""
    try:
        return ("ok", repr(decide()))
    except Exception as exc:  # the reference raises on some inputs: so must the engine
        return ("raised", type(exc).__name__, str(exc))


def both(policy: Policy, case: dict[str, Any], run: Callable[..., Any]) -> tuple[str, ...]:
    return outcome(
        lambda: run(
            policy,
            case["deal"],
            case["requester"],
            case["owner"],
            today=case["today"],
            now=NOW,
            decision_id="d-1",
            owner_delegate_id=case["delegate"],
        )
    )


@pytest.mark.parametrize("name", list(policies()))
def test_assess_matches_the_reference_on_generated_deals(name: str) -> None:
    policy = policies()[name]()
    cases = deals(policy, 1500, seed=16)
    expected = [both(policy, case, assess_reference) for case in cases]
    first = [both(policy, case, assess) for case in cases]  # caches filling
    again = [both(policy, case, assess) for case in reversed(cases)]  # caches full
    assert first == expected
    assert again == expected[::-1]
    decided = [e for e in expected if e[0] == "ok"]
    assert len(decided) > 1000  # most cases decide; the rest raise alike (unknown tier...)
    effects = plan_of(policy).effects.values()
    kept = [len(c) for rules in effects for lever in rules.levers for c in lever.caches]
    assert 0 < max(kept) <= VALUES_KEPT


def reference_decision(*args: Any, **kwargs: Any) -> Any:
    return assess_reference(*args, **kwargs).decision


@pytest.mark.parametrize("name", list(policies()))
def test_evaluate_gives_the_assessments_decision(name: str) -> None:
    policy = policies()[name]()
    cases = deals(policy, 300, seed=7)
    expected = [both(policy, case, reference_decision) for case in cases]
    assert [both(policy, case, evaluate) for case in cases] == expected


def decide(policy: Policy, tier: str = "account_manager", **fields: Any) -> Any:
    party = Party("am.jones", tier)
    deal = {"deal_id": "Q-1", "currency": "USD", "list_amount": Decimal("80000"), **fields}
    return evaluate(policy, deal, party, party, today=date(2026, 6, 10), now=NOW)


def test_equal_values_written_differently_keep_their_own_finding() -> None:
    policy = policies()["shipped"]()
    seen = []
    for text in ("20", "20.0", "2E+1", "20.00", "20", "2E+1", "20.0"):
        finding = decide(policy, discount_pct=Decimal(text)).finding("discount_pct")
        seen.append((repr(finding.value), repr(finding.headroom), finding.reason))
    tail = " is above account_manager's ceiling of 10 and within sales_director's 20."
    twenty = ("Decimal('20')", "Decimal('-10')", "20" + tail)
    exponent = ("Decimal('2E+1')", "Decimal('-10')", "20" + tail)
    one_place = ("Decimal('20.0')", "Decimal('-10.0')", "20.0" + tail)
    two_places = ("Decimal('20.00')", "Decimal('-10.00')", "20.00" + tail)
    assert seen == [twenty, one_place, exponent, two_places, twenty, exponent, one_place]


def test_a_rule_that_errors_still_fails_closed_once_its_neighbours_are_kept() -> None:
    policy = policies()["wide"]()
    rows = []
    for field in (Decimal("2"), Decimal("0.5"), None, Decimal("0.5"), None):
        extra = {} if field is None else {"no_such_field": field}
        decision = decide(policy, "rep", region="na", discount_pct=Decimal("5"), **extra)
        rows.append(
            (
                [r.name for r in decision.rules],
                list(decision.required_tiers),
                [e.as_dict() for e in decision.errors],
            )
        )
    error = {"source": "rule:needs-field", "message": "no such key: no_such_field"}
    assert rows == [
        (["junior-big", "needs-field"], ["director", "vp"], []),
        (["junior-big"], ["director"], []),
        (["junior-big", "needs-field"], ["director", "vp"], [error]),
        (["junior-big"], ["director"], []),
        (["junior-big", "needs-field"], ["director", "vp"], [error]),
    ]


def test_a_bool_compute_is_an_error_even_where_its_number_was_kept() -> None:
    policy = policies()["odd"]()
    found = []
    for label in (Decimal("1"), True, Decimal("1"), True):
        decision = decide(policy, "rep", label=label)
        labelled = decision.finding("labelled")
        errors = [e.message for e in decision.errors if e.source == "lever:labelled"]
        found.append((labelled.status.value, repr(labelled.value), errors))
    wrong = ["`compute` must give a number, got True"]
    assert found == [
        ("within", "Decimal('1')", []),
        ("beyond_authority", "None", wrong),
        ("within", "Decimal('1')", []),
        ("beyond_authority", "None", wrong),
    ]


def test_caches_stay_bounded_and_right_past_their_limit() -> None:
    policy = policies()["shipped"]()
    party = Party("am.jones", "account_manager")
    values = [Decimal(n) / 100 for n in range(VALUES_KEPT * 2 + 37)]
    for value in values + values[:50]:
        deal = {"deal_id": "Q-1", "list_amount": Decimal("80000"), "discount_pct": value}
        args = (policy, deal, party, party)
        fast = assess(*args, today=date(2026, 6, 10), now=NOW)
        assert repr(fast) == repr(assess_reference(*args, today=date(2026, 6, 10), now=NOW))
    discount = plan_of(policy).effects_for(0).levers[0]
    assert discount.name == "discount_pct"
    assert 0 < len(discount.caches[0]) <= VALUES_KEPT


def test_past_every_limit_the_engine_still_decides_as_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plan_module, "VALUES_KEPT", 2)
    monkeypatch.setattr(plan_module, "RULE_SETS_KEPT", 1)
    monkeypatch.setattr(plan_module, "LADDER_SETS_KEPT", 1)
    policy = policies()["wide"]()
    cases = deals(policy, 400, seed=3)
    expected = [both(policy, case, assess_reference) for case in cases]
    assert [both(policy, case, assess) for case in cases] == expected
    plan = plan_of(policy)
    assert (len(plan.effects), len(plan._ladders)) == (1, 1)
    assert max(len(c) for e in plan.effects.values() for lp in e.levers for c in lp.caches) <= 2


def test_a_compute_that_divides_by_zero_fails_closed_every_time() -> None:
    """CEL's double division by zero gives inf (or nan for 0/0) instead of an error; no
    ladder places either, so the lever is beyond authority with the error listed, on every
    decision, before and after a finite value for the same lever was kept."""
    policy = policies()["odd"]()
    rep = Party("am.jones", "rep")
    found = []
    for amount, credit in (("0", "500"), ("0", "0"), ("80000", "800"), ("0", "500")):
        deal = {
            "deal_id": "Q-1",
            "currency": "USD",
            "list_amount": Decimal(amount),
            "attributes": {"services_credit": Decimal(credit)},
        }
        run = {"today": date(2026, 6, 10), "now": NOW, "decision_id": "d-1"}
        decision = evaluate(policy, deal, rep, rep, **run)
        assert decision == reference_decision(policy, deal, rep, rep, **run)
        lever = decision.finding("services_credit_pct")
        errors = [e.message for e in decision.errors if e.source == "lever:services_credit_pct"]
        found.append((lever.status.value, repr(lever.value), decision.outcome.value, errors))
    infinite = ["`compute` must give a finite number, got inf"]
    assert found == [
        ("beyond_authority", "None", "denied", infinite),
        ("beyond_authority", "None", "denied", ["`compute` must give a finite number, got nan"]),
        ("within", "Decimal('1')", "needs_approval", []),  # other levers and rules
        ("beyond_authority", "None", "denied", infinite),
    ]
