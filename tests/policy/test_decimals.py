"""Decimal rendering: the fast path (str) renders every value exactly as format(value, "f")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.policy.decimals import decimal_str, json_bytes


def reference(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text in ("-0", "-0.0") else text


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_plain_rendering_matches_format(value: Decimal) -> None:
    assert decimal_str(value) == reference(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [("1E+2", "100"), ("-0", "0"), ("-0.0", "0"), ("1E-7", "0.0000001"), ("18.50", "18.50")],
)
def test_examples(value: str, text: str) -> None:
    assert decimal_str(Decimal(value)) == text


def test_json_bytes_keeps_decimals_exact_and_falls_back_for_huge_integers() -> None:
    assert json_bytes({"a": Decimal("1.50"), "b": [1, "x"]}) == b'{"a":"1.50","b":[1,"x"]}'
    assert json_bytes({"big": 10**30}) == b'{"big":1000000000000000000000000000000}'
