"""What CEL sees of one evaluation: the deal converted the way the CEL library needs it, built
only when an expression has to run in the library (the native evaluator reads it as is)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api.policy.cel_native import as_double
from api.policy.conditions import new_activation
from api.policy.model import Policy


class Library:
    """The CEL library's context for this evaluation, built only if an expression needs it:
    only the deal fields the policy reads are converted (never, say, 200 quote lines), and
    the whole deal when an expression reads `deal` as a whole."""

    __slots__ = ("_context", "_deal", "_policy", "_variables")

    def __init__(self, policy: Policy, deal: Mapping[str, Any], variables: dict[str, Any]):
        self._policy, self._deal, self._variables = policy, deal, variables
        self._context: Any = None

    def __call__(self) -> Any:
        if self._context is None:
            variables = dict(self._variables)
            if "deal" in self._policy.cel_variables:
                fields = self._policy.cel_deal_fields
                deal = self._deal
                source = deal if fields is None else {k: deal[k] for k in fields if k in deal}
                variables["deal"] = cel_value(source)
            self._context = new_activation(variables)
        return self._context


def cel_value(value: Any) -> Any:
    """The deal as CEL sees it: every number a double, nested objects as maps."""
    kind = type(value)
    if kind is int:
        return as_double(value)
    if kind in _NUMBERS:
        return float(value)
    if kind in _AS_IS:
        return value
    if isinstance(value, Mapping):
        return {str(k): cel_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cel_value(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return as_double(value)
    if isinstance(value, (Decimal, float)):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


_NUMBERS = frozenset({Decimal, float})
_AS_IS = frozenset({str, bool, type(None)})
