"""CEL expressions: compiled once per policy version, evaluated against one activation."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import cel

_DEAL_FIELD = re.compile(r"\bdeal\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_DEAL_ANY = re.compile(r"\bdeal\b")


class ExpressionError(Exception):
    """A CEL expression failed to compile or to evaluate."""


@dataclass(frozen=True, slots=True)
class Expression:
    source: str
    program: Any
    deal_fields: frozenset[str]
    variables: frozenset[str] = frozenset()
    reads_whole_deal: bool = False

    def run(self, activation: Any) -> Any:
        """Evaluate against a cel.Context (or dict); any CEL failure becomes ExpressionError."""
        try:
            return self.program.execute(activation)
        except Exception as exc:  # the CEL runtime raises KeyError, TypeError, ValueError...
            raise ExpressionError(_describe(exc)) from None


def compile_expression(source: str) -> Expression:
    """Parse a CEL expression; a syntax error raises ExpressionError with CEL's message."""
    try:
        program = cel.compile(source)
    except Exception as exc:
        raise ExpressionError(_describe(exc)) from None
    fields = _DEAL_FIELD.findall(source)
    whole = len(_DEAL_ANY.findall(source)) > len(fields)
    return Expression(source, program, frozenset(fields), frozenset(program.variables()), whole)


def new_activation(variables: dict[str, Any]) -> Any:
    """One CEL context for a whole evaluation, so the deal is converted once, not per rule."""
    return cel.Context(variables=variables)


class Activations:
    """One reusable CEL context per thread (held by a policy version). Converting values for
    CEL is the engine's largest cost, so a value that rarely changes (the fiscal period) is
    converted again only when its key changes; the others are replaced on every call."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(
        self, sticky: dict[str, tuple[Hashable, Callable[[], Any]]], fresh: dict[str, Any]
    ) -> Any:
        context = getattr(self._local, "context", None)
        if context is None:
            context = self._local.context = cel.Context()
            self._local.keys = {}
        keys: dict[str, Hashable] = self._local.keys
        for name, (key, make) in sticky.items():
            if keys.get(name, _UNSET) != key:
                context.add_variable(name, make())
                keys[name] = key
        for name, value in fresh.items():
            context.add_variable(name, value)
        return context


_UNSET = object()


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0] if exc.args else ''}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
