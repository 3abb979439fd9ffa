"""The native CEL evaluator against the CEL library itself: on generated expressions and
activations, every value the native path returns is exactly the library's value; where the
library would fail, the native path stepped aside."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import cel
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from api.policy.cel_native import Delegate, compile_native
from api.policy.engine import cel_value
from api.policy.loader import load_policy_dir

RAW = frozenset({"deal"})
PATHS = [
    "deal.a", "deal.b", "deal.i", "deal.s", "deal.t", "deal.flag", "deal.n", "deal.acct",
    "deal.acct.seg", "deal.acct.size", "deal.missing", "deal.acct.missing", "deal['a']",
    "period.q", "period.year", "requester.rank", "requester.tier", "nope.x", "deal",
]  # fmt: skip
LITERALS = [
    "0", "1", "3", "-2", "9223372036854775807", "0.0", "1.0", "2.5", "-1.5", "1e3", "1000000.0",
    "9007199254740993.0", "'x'", '"y"', "''", "true", "false", "null",
]  # fmt: skip
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([10**400, -(10**400)]),  # JSON allows it; beyond a double's range
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, max_value=10**12),
    st.sampled_from(["x", "y", "", "public_sector", "2026-12-29", "2027-02-15"]),
)


def expressions() -> st.SearchStrategy[str]:
    atoms = st.sampled_from(PATHS + LITERALS) | st.sampled_from(PATHS).map(lambda p: f"has({p})")
    binary = st.sampled_from(["+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "&&", "||"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, binary, inner, st.booleans()).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})" if t[3] else f"{t[0]} {t[1]} {t[2]}"
            ),
            st.tuples(st.sampled_from(["!", "-"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        )

    return st.recursive(atoms, extend, max_leaves=6)


def activations() -> st.SearchStrategy[dict[str, Any]]:
    deal = st.fixed_dictionaries(
        {},
        optional={
            "a": SCALAR,
            "b": SCALAR,
            "i": SCALAR,
            "s": SCALAR,
            "t": SCALAR,
            "flag": SCALAR,
            "n": SCALAR,
            "acct": st.one_of(
                SCALAR, st.fixed_dictionaries({}, optional={"seg": SCALAR, "size": SCALAR})
            ),
        },
    )
    return st.fixed_dictionaries(
        {
            "deal": deal,
            "period": st.fixed_dictionaries({"q": st.booleans(), "year": st.integers(2020, 2030)}),
            "requester": st.fixed_dictionaries(
                {"rank": st.integers(0, 5), "tier": st.sampled_from(["account_manager", "cfo"])}
            ),
        }
    )


def library(source: str, variables: dict[str, Any]) -> tuple[bool, Any]:
    program = cel.compile(source)
    converted = {**variables, "deal": cel_value(variables["deal"])}
    try:
        return True, program.execute(converted)
    except Exception as exc:
        return False, exc


def same(native: Any, expected: Any) -> bool:
    if type(native) is not type(expected):
        return False
    if isinstance(native, float) and math.isnan(native):
        return math.isnan(expected)
    return bool(native == expected)


@settings(max_examples=3000, deadline=None)
@given(source=expressions(), variables=activations())
def test_native_agrees_with_the_library(source: str, variables: dict[str, Any]) -> None:
    try:
        cel.compile(source)
    except Exception:
        assume(False)  # the loader refuses what CEL cannot compile
    native = compile_native(source, RAW)
    assume(native is not None)
    try:
        value = native(variables)
    except Delegate:
        event("delegated")
        return
    event(f"native {type(value).__name__}")
    ok, expected = library(source, variables)
    assert ok, f"{source}: native gave {value!r}, the library failed: {expected}"
    assert same(value, expected), f"{source}: native {value!r}, library {expected!r}"


DEAL = {
    "discount_pct": Decimal("18"),
    "rebate_pct": Decimal("1.5"),
    "payment_terms_days": 60,
    "list_amount": Decimal("250000.00"),
    "account": {"segment": "public_sector"},
    "special_billing": True,
    "close_date": "2026-12-29",
    "customer_target_date": "2027-02-15",
}


def test_the_shipped_policy_runs_natively() -> None:
    policy = load_policy_dir(Path(__file__).resolve().parents[2] / "policies").active
    variables = {"deal": DEAL, "period": {"is_quarter_end": True, "is_year_end": True}}
    for expression in policy.expressions:
        assert expression.native is not None, expression.source
        ok, expected = library(expression.source, variables)
        assert ok
        assert same(expression.native(variables), expected), expression.source


@pytest.mark.parametrize(
    "source",
    [
        "size(deal.lines) > 2",
        "deal.region in ['EMEA', 'APAC']",
        "deal.name.startsWith('A')",
        "'a\\\\nb' == deal.s",
        "7 % 2 == 1",
        "[1, 2][0] == 1",
    ],
)
def test_outside_the_subset_is_left_to_the_library(source: str) -> None:
    assert compile_native(source, RAW) is None


@pytest.mark.parametrize(
    ("source", "deal"),
    [
        ("deal.missing > 1.0", {}),
        ("deal.a + 1", {"a": Decimal("1")}),
        ("deal.a < deal.s", {"a": 1, "s": "x"}),
        ("deal.a / 0.0 > 1.0", {"a": 1}),
        ("has(deal.acct.seg)", {}),
        ("deal.lines == deal.lines", {"lines": [1]}),
        ("deal.s - 1.0", {"s": "x"}),
        ("deal.s >= 1.0", {"s": "x"}),
    ],
    ids=[
        "missing-key",
        "double-plus-int",
        "double-vs-string",
        "divide-by-zero",
        "has-on-missing",
        "lists",
        "string-minus-double",
        "string-vs-double-literal",
    ],
)
def test_errors_and_odd_types_go_to_the_library(source: str, deal: dict[str, Any]) -> None:
    native = compile_native(source, RAW)
    assert native is not None
    with pytest.raises(Delegate):
        native({"deal": deal})


FIXED = [
    "deal.a == null",
    "deal.n != null",
    "deal.s == 'x'",
    "deal.flag == true",
    "deal.a != 'x'",
    "deal.i == 3",
    "deal.a >= 1000000.0",
    "requester.rank < 3",
    "-deal.a < 0.0",
    "!(deal.flag)",
    "deal.flag ? deal.s : deal.t",
    "true || deal.missing",
    "false && deal.missing",
    "deal.s + deal.t",
    "(deal.a - 30.0) / 365.0 * 10.0",
    "has(deal.acct) && has(deal.acct.seg) && deal.acct.seg == 'public_sector'",
    "requester.rank < 3.5",  # an int against a double literal
    "requester.rank >= 9007199254740993.0",  # ... beyond where both are exact
    "requester.rank - 1.0",  # int minus double: an error in CEL
    "deal.a / 365.0 + deal.a",
    "deal.a + 1.5 > deal.a",
]
FIXED_DEALS = [
    {"a": Decimal("2.5"), "i": 10**400, "s": "x", "t": "y", "flag": True, "n": None,
     "acct": {"seg": "public_sector"}},
    {"a": None, "i": Decimal("3"), "s": "y", "t": "", "flag": False, "n": 1,
     "acct": {"seg": "enterprise"}},
]  # fmt: skip


@pytest.mark.parametrize("source", FIXED)
@pytest.mark.parametrize("deal", FIXED_DEALS, ids=["first", "second"])
def test_each_construct_agrees_with_the_library(source: str, deal: dict[str, Any]) -> None:
    variables = {"deal": deal, "requester": {"rank": 2}}
    native = compile_native(source, RAW)
    assert native is not None, source
    ok, expected = library(source, variables)
    try:
        value = native(variables)
    except Delegate:
        return
    assert ok and same(value, expected), (source, value, expected)
