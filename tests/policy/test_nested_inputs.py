"""A computed lever's inputs are every `deal.…` path its `compute` selects, nested ones included:
a missing one makes the lever not_requested (no error); an error with every input present
fails closed (beyond_authority, with the error listed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from api.policy.conditions import deal_paths
from api.policy.decision import Party
from api.policy.engine import evaluate
from api.policy.lint import lint, sample_deal
from api.policy.loader import parse_policy

POLICY = """\
apiVersion: dealdesk/v1
kind: AuthorityPolicy
metadata: {name: credits, version: "1"}
spec:
  currency: USD
  fiscal_year_start: "01-01"
  tiers: [rep, manager, vp]
  levers:
    discount_pct:
      ceilings: {rep: 10, manager: 20, vp: 30}
    services_credit_pct:
      compute: deal.attributes.services_credit * 100.0 / deal.list_amount
      ceilings: {rep: 1, manager: 5, vp: 10}
"""
REP = Party("rep.1", "rep")


def decide(**fields: Any) -> dict[str, Any]:
    policy = parse_policy(POLICY.encode(), "credits.yaml")
    deal = {"deal_id": "D-1", "owner_id": REP.id, "currency": "USD", **fields}
    decision = evaluate(
        policy,
        deal,
        REP,
        REP,
        today=date(2026, 6, 10),
        now=datetime(2026, 6, 10, tzinfo=UTC),
        decision_id="d",
    )
    return decision.as_dict()


def credit(decision: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in decision["findings"] if f["lever"] == "services_credit_pct")


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"list_amount": Decimal("100000")}, "attributes.services_credit"),
        ({"list_amount": Decimal("100000"), "attributes": {}}, "attributes.services_credit"),
        (
            {"list_amount": Decimal("100000"), "attributes": {"services_credit": None}},
            "attributes.services_credit",
        ),
        ({"attributes": {"services_credit": Decimal("500")}}, "list_amount"),
        ({}, "attributes.services_credit, list_amount"),
    ],
    ids=["no-attributes", "attribute-absent", "attribute-null", "amount-absent", "both-absent"],
)
def test_a_missing_nested_input_is_not_requested_without_error(
    fields: dict[str, Any], missing: str
) -> None:
    decision = decide(discount_pct=Decimal("5"), **fields)
    assert (decision["outcome"], decision["errors"]) == ("approved", [])
    assert credit(decision) == {
        "lever": "services_credit_pct",
        "value": None,
        "requester_ceiling": "1",
        "required_tier": None,
        "status": "not_requested",
        "headroom": None,
        "reason": f"services_credit_pct is not computed because the deal does not set {missing}.",
    }


def test_present_nested_inputs_are_computed() -> None:
    decision = decide(
        list_amount=Decimal("100000"), attributes={"services_credit": Decimal("3000")}
    )
    assert (decision["outcome"], decision["required_tiers"]) == ("needs_approval", ["manager"])
    assert (credit(decision)["value"], credit(decision)["status"]) == ("3", "needs_approval")


def test_a_compute_that_errors_with_every_input_present_fails_closed() -> None:
    decision = decide(list_amount=Decimal("100000"), attributes={"services_credit": "lots"})
    assert decision["outcome"] == "denied"
    assert credit(decision)["status"] == "beyond_authority"
    assert [e["source"] for e in decision["errors"]] == ["lever:services_credit_pct"]


@pytest.mark.parametrize(
    ("source", "paths"),
    [
        (
            "deal.attributes.services_credit * 100.0 / deal.list_amount",
            (("attributes", "services_credit"), ("list_amount",)),
        ),
        ("deal . account . segment == 'x'", (("account", "segment"),)),
        ('deal.account.name.startsWith("A")', (("account", "name"),)),
        ("size(deal.lines) > 2", (("lines",),)),
        ("deal.discount_pct + deal.discount_pct", (("discount_pct",),)),
    ],
    ids=["nested-and-top", "spaced", "method-call", "function-arg", "repeated"],
)
def test_deal_paths(source: str, paths: tuple[tuple[str, ...], ...]) -> None:
    assert deal_paths(source) == paths


def test_policy_check_sample_deal_gives_nested_inputs_a_value() -> None:
    policy = parse_policy(POLICY.encode(), "credits.yaml")
    assert sample_deal(policy)["attributes"] == {"services_credit": Decimal("1")}
    assert [w.message for w in lint(policy)] == []
    mistyped = parse_policy(
        POLICY.replace("* 100.0 / deal.list_amount", '+ "x"').encode(), "credits.yaml"
    )
    assert [(w.path, w.message.split(":")[1].strip()) for w in lint(mistyped)] == [
        ("spec.levers.services_credit_pct.compute", "CEL type error on a sample deal")
    ]
