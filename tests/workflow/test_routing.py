"""Approver routing: the owner's chain (gaps, inactive managers) and registry tiers."""

from __future__ import annotations

import dataclasses

import pytest

from api.policy.loader import PolicySet
from api.policy.model import ApprovalMode
from api.workflow.routing import Candidate, assign, step_tiers

CHAIN = [
    Candidate("sm", "sales_manager", True),
    Candidate("sd", "sales_director", True),
    Candidate("vp", "vp_sales", True),
    Candidate("ceo", "ceo", True),
]


def route(
    shipped: PolicySet,
    tiers: list[str],
    chain: list[Candidate],
    registry: dict[str, list[Candidate]] | None = None,
) -> list[tuple[str, str | None, str | None]]:
    steps = assign(shipped.active, tiers, chain, registry or {}, "am")
    return [(s.tier, s.approver_id, s.stuck_reason) for s in steps]


def test_nearest_manager_at_or_above_each_tier(shipped: PolicySet) -> None:
    assert route(shipped, ["sales_manager", "vp_sales"], CHAIN) == [
        ("sales_manager", "sm", None),
        ("vp_sales", "vp", None),
    ]


def test_gap_in_chain_goes_to_the_next_one_up(shipped: PolicySet) -> None:
    chain = [c for c in CHAIN if c.id != "sd"]
    assert route(shipped, ["sales_director"], chain) == [("sales_director", "vp", None)]


def test_inactive_manager_is_skipped(shipped: PolicySet) -> None:
    chain = [dataclasses.replace(c, active=c.id != "vp") for c in CHAIN]
    assert route(shipped, ["vp_sales"], chain) == [("vp_sales", "ceo", None)]


def test_nobody_left_in_chain_is_stuck(shipped: PolicySet) -> None:
    assert route(shipped, ["vp_sales"], CHAIN[:2]) == [
        ("vp_sales", None, "no active manager at or above vp_sales in am's chain")
    ]


@pytest.mark.parametrize(
    ("holders", "expected"),
    [
        ([Candidate("cfo", "cfo", True)], ("cfo", "cfo", None)),
        ([], ("cfo", None, "no active person holds tier cfo")),
        (
            [Candidate("c1", "cfo", True), Candidate("c2", "cfo", True)],
            ("cfo", None, "2 active people hold tier cfo: c1, c2"),
        ),
    ],
    ids=["one", "none", "several"],
)
def test_registry_tier(
    shipped: PolicySet, holders: list[Candidate], expected: tuple[str, str | None, str | None]
) -> None:
    assert route(shipped, ["cfo"], CHAIN, {"cfo": holders}) == [expected]


def test_step_tiers_by_approval_mode(shipped: PolicySet) -> None:
    policy = shipped.active
    assert step_tiers(policy, ["sales_director", "cfo"], "account_manager") == [
        "sales_director",
        "cfo",
    ]
    every = dataclasses.replace(policy, approval=ApprovalMode.EVERY_TIER)
    assert step_tiers(every, ["sales_director", "cfo"], "account_manager") == [
        "sales_manager",
        "sales_director",
        "vp_sales",
        "cfo",
    ]
    assert step_tiers(every, ["vp_sales"], "sales_director") == ["vp_sales"]
    assert step_tiers(every, [], "account_manager") == []
