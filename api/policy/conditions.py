"""CEL expressions: compiled once per policy version, evaluated against one activation."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from api.policy.cel_native import Delegate, Native, compile_native

_DEAL_FIELD = re.compile(r"\bdeal\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_DEAL_ANY = re.compile(r"\bdeal\b")
_DEAL_PATH = re.compile(r"\bdeal((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)+)(\s*\()?")
_STEP = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


RAW_VARIABLES = frozenset({"deal"})
"""Handed to native evaluation as the API loaded them; CEL's view is made on the way."""


class ExpressionError(Exception):
    """A CEL expression failed to compile or to evaluate."""


@dataclass(frozen=True, slots=True)
class Expression:
    source: str
    program: Any
    deal_fields: frozenset[str]
    variables: frozenset[str] = frozenset()
    reads_whole_deal: bool = False
    native: Native | None = None
    deal_paths: tuple[tuple[str, ...], ...] = ()
    """Every `deal.a.b` path the expression selects, nested ones included (a trailing method
    call such as `.size()` is not a step); sorted, without duplicates."""
    """The same expression evaluated natively (cel_native), when it is in the common subset."""

    def run(self, variables: Mapping[str, Any], library: Callable[[], Any] | None = None) -> Any:
        """Evaluate against plain variables; `library()` gives the CEL context to use when the
        library must decide (built once per evaluation by the caller). Any CEL failure becomes
        ExpressionError."""
        if self.native is not None:
            try:
                return self.native(variables)
            except Delegate:
                pass
        return self.run_library(variables, library)

    def run_library(
        self, variables: Mapping[str, Any], library: Callable[[], Any] | None = None
    ) -> Any:
        """`run` in the CEL library alone (for a caller that tried `native` itself)."""
        try:
            return self.program.execute(library() if library is not None else variables)
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
    return Expression(
        source,
        program,
        frozenset(fields),
        frozenset(program.variables()),
        whole,
        compile_native(source, RAW_VARIABLES),
        deal_paths(source),
    )


def deal_paths(source: str) -> tuple[tuple[str, ...], ...]:
    """The `deal.…` paths an expression selects: `deal.attributes.credit * 2.0` gives
    (("attributes", "credit"),); in `deal.name.startsWith("a")` the call is not a step."""
    paths = set()
    for match in _DEAL_PATH.finditer(source):
        steps = _STEP.findall(match.group(1))
        if match.group(2):  # the last step is a method called on the path before it
            steps = steps[:-1]
        if steps:
            paths.add(tuple(steps))
    return tuple(sorted(paths))


def new_activation(variables: Mapping[str, Any]) -> Any:
    """One CEL context for a whole evaluation, so the deal is converted once, not per rule."""
    return cel.Context(variables=dict(variables))


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0] if exc.args else ''}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
