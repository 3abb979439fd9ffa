"""Exact numbers: Decimals in, plain decimal strings out (never floats, never exponents)."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

import orjson

_COMPUTED_PLACES = Decimal("1e-10")

EXACT = Context(prec=80)
"""Arithmetic on API values: they carry up to 28 significant digits between 1e28 and 1e-28,
so differences and products of two of them (and a policy's ceilings) are exact here, where
the default context's 28 digits would round them."""


def decimal_str(value: Decimal) -> str:
    """Render a Decimal as a plain string, e.g. Decimal('1E+2') -> '100'."""
    text = str(value)  # plain already unless it uses an exponent; format() is 5x slower
    if "E" in text:
        text = format(value, "f")
    return "0" if text in ("-0", "-0.0") else text


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from an int, Decimal or numeric string; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() and value.strip() != "" else None
    return None


def from_cel_number(value: float) -> Decimal:
    """A computed result, rounded to 10 places so float noise never crosses a ceiling."""
    shown = repr(value) if type(value) is float else repr(float(value))
    exact = Decimal(shown).quantize(_COMPUTED_PLACES, rounding=ROUND_HALF_EVEN)
    return exact.normalize() if exact != 0 else Decimal(0)


def jsonable(value: Any) -> Any:
    """A parsed body as JSON-safe data: Decimals become plain strings, nothing else changes."""
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, Decimals as plain strings: what responses and the log carry."""
    try:
        return orjson.dumps(value, default=_plain)
    except TypeError:  # orjson refuses integers beyond 64 bits; the standard library does not
        return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":")).encode()


def _plain(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
