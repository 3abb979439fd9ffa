"""A policy's conditions compiled into one function (cel_rules) decide each rule as its own
native function does: true is matched; false is neither; a Delegate, another value, or an
expression outside the subset is set aside for the engine to decide one by one."""

from __future__ import annotations

from typing import Any

import cel
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from api.policy.cel_native import Delegate, compile_native
from api.policy.cel_rules import compile_rules
from tests.policy.test_cel_native import RAW, activations, expressions


def one_by_one(sources: list[str], variables: dict[str, Any]) -> tuple[int, int]:
    matched = aside = 0
    for position, source in enumerate(sources):
        native = compile_native(source, RAW)
        try:
            result = native(variables) if native is not None else Delegate
        except Delegate:
            result = Delegate
        if result is True:
            matched |= 1 << position
        elif result is not False:
            aside |= 1 << position
    return matched, aside


def compiles(source: str) -> bool:
    try:
        cel.compile(source)
    except Exception:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(sources=st.lists(expressions(), min_size=1, max_size=5), variables=activations())
def test_one_function_decides_as_each_rule_alone(
    sources: list[str], variables: dict[str, Any]
) -> None:
    assume(all(compiles(s) for s in sources))  # the loader refuses what CEL cannot compile
    assert compile_rules(sources, RAW)(variables) == one_by_one(sources, variables)


CASES = [
    # (conditions, deal, (matched, aside))
    (["deal.a > 1.0", "deal.s == 'x'"], {"a": 2.0, "s": "x"}, (0b11, 0)),
    (["deal.a > 1.0", "deal.s == 'x'"], {"a": 0.5, "s": "y"}, (0, 0)),
    (["deal.missing > 1.0", "deal.a > 1.0"], {"a": 2.0}, (0b10, 0b01)),
    (["deal.a", "true", "'text'"], {"a": 2.0}, (0b010, 0b101)),
    (["deal.s in ['x', 'y']", "deal.a < 1.0"], {"a": 0.5, "s": "x"}, (0b10, 0b01)),
    ([], {}, (0, 0)),
]


def test_each_kind_of_outcome() -> None:
    for sources, deal, expected in CASES:
        assert compile_rules(sources, RAW)({"deal": deal}) == expected, sources
