"""A native evaluator for the common subset of CEL that policies use: literals, variables,
field selection, `has()`, arithmetic, comparisons, `!`, `&&`, `||` and `?:`.

It exists for speed: handing values to the CEL library costs microseconds per map entry,
more than the whole decision. Each expression is parsed once per policy version and turned
into one small Python function (its source is built from the parse tree; literals go in as
`repr()` and field names only as dictionary keys, so nothing from the policy is ever code).

It is not a second implementation of CEL's corner cases: wherever the library could raise an
error, or the types differ from the plain double, int, string and bool cases, the function
raises Delegate and the library evaluates the expression instead. So a value it returns is
the value the library would return; tests/policy/test_cel_native.py holds it to that on
generated expressions and activations. An expression outside the subset (other functions,
lists, maps, `in`, escapes in strings) compiles to None and always runs in the library.

Variables named in `raw` may hold values as the API loaded them (Decimal, int) rather than as
CEL sees them: fields read through them are converted on the way (every number a double), so
the deal never needs converting up front.

The grammar is in cel_parser, the node shapes and what the tree says about types in cel_tree;
this module turns a tree into its function and holds what that function calls at run time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from api.policy.cel_parser import INT64_MAX, INT64_MIN, Unsupported, parse
from api.policy.cel_tree import Node, float_literal, holder_only, is_bool, static_type

Native = Callable[[Mapping[str, Any]], Any]

_EXACT = 2**53  # beyond this an int and a double may compare differently in the library


class Delegate(Exception):
    """Let the CEL library decide: an error, or a case this evaluator does not cover."""


def compile_native(source: str, raw: frozenset[str] = frozenset()) -> Native | None:
    """A native evaluator for `source`, or None when it is outside the subset."""
    try:
        return _Codegen(raw).function(parse(source))
    except (Unsupported, RecursionError):
        return None


def native_block(
    source: str, raw: frozenset[str], shared: dict[str, str]
) -> tuple[list[str], str] | None:
    """`compile_native`'s statements and result local, for code that runs several expressions
    in one function (cel_rules), or None when `source` is outside the subset. The variables
    are read once for all of them: `shared` gains each one's local (`var0 = v.get(...)` is
    the caller's to write, before every block)."""
    try:
        return _Codegen(raw, shared).block(parse(source))
    except (Unsupported, RecursionError):
        return None


# --- code generation: one function per expression --------------------------------------------


class _Codegen:
    """Statements computing each node into a fresh local; any doubt raises Delegate.

    Raising Delegate is always safe (the library then decides), so checks may be hoisted or
    strengthened freely; what the generated code must never do is return a value the library
    would not. Types known from the parse tree (literals, comparisons) drop the checks that
    cannot fail."""

    def __init__(self, raw: frozenset[str], shared: dict[str, str] | None = None) -> None:
        self.raw = raw
        self.lines: list[str] = []
        self.count = 0
        self.shared = shared is not None  # the variables are read before this block
        self.variables: dict[str, str] = shared if shared is not None else {}
        self.holders: frozenset[str] = frozenset()

    def function(self, tree: Node) -> Native:
        lines, result = self.block(tree)
        body = "\n".join(lines)
        source = f"def native(v):\n{body}\n    return {result}\n"
        namespace = runtime()
        exec(compile(source, "<cel>", "exec"), namespace)  # noqa: S102 - our own source
        function: Native = namespace["native"]
        return function

    def block(self, tree: Node) -> tuple[list[str], str]:
        """The statements (one level in) that compute `tree` from the variables `v`, and the
        local that then holds its value; any doubt raises Delegate."""
        self.holders = holder_only(tree)
        result = self.node(tree, 1)
        prologue = []
        for name, local in self.variables.items():
            if not self.shared:
                prologue.append(f"    {local} = v.get({name!r}, MISSING)")
            if name in self.holders:  # only ever selected from: it must be a map
                prologue.append(f"    if type({local}) is not dict: raise Delegate")
        # a map as the result would be the raw value, not CEL's view of it: the library says
        if static_type(tree) not in _RESULTS:
            self.emit(1, f"if type({result}) not in SCALARS: raise Delegate")
        return prologue + self.lines, result

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def fresh(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def local(self, name: str) -> str:
        return self.variables.setdefault(name, f"var{len(self.variables)}")

    def node(self, node: Node, depth: int) -> str:
        kind = node[0]
        if kind == "lit":
            return repr(node[1]) if type(node[1]) is not type(None) else "None"
        if kind == "var":  # read once, up front; missing only matters where it is used
            local = self.local(node[1])
            self.emit(depth, f"if {local} is MISSING: raise Delegate")
            return local
        out = self.fresh()
        if kind in ("sel", "has"):
            if node[1][0] == "var" and node[1][1] in self.holders:
                holder = self.local(node[1][1])  # checked to be a map in the prologue
            else:
                holder = self.node(node[1], depth)
                self.emit(depth, f"if type({holder}) is not dict: raise Delegate")
            if kind == "has":
                self.emit(depth, f"{out} = {node[2]!r} in {holder}")
            else:
                self.select(out, holder, node, depth)
        elif kind == "not":
            operand = self.node(node[1], depth)
            self.require_bool(operand, node[1], depth)
            self.emit(depth, f"{out} = not {operand}")
        elif kind == "neg":
            operand = self.node(node[1], depth)
            self.emit(depth, f"if type({operand}) is float: {out} = -{operand}")
            self.emit(depth, f"elif type({operand}) is int and {operand} != INT64_MIN:")
            self.emit(depth + 1, f"{out} = -{operand}")
            self.emit(depth, "else: raise Delegate")
        elif kind == "cond":
            self.conditional(out, node, depth)
        else:
            self.binary(out, node[1], node[2], node[3], depth)
        return out

    def select(self, out: str, holder: str, node: Node, depth: int) -> None:
        self.emit(depth, f"{out} = {holder}.get({node[2]!r}, MISSING)")
        self.emit(depth, f"if {out} is MISSING: raise Delegate")
        if self.rooted(node):
            self.emit(depth, f"if type({out}) is Decimal: {out} = float({out})")
            self.emit(depth, f"elif type({out}) is int: {out} = as_double({out})")
            self.emit(depth, f"elif type({out}) not in SHAPED: raise Delegate")

    def rooted(self, node: Node) -> bool:
        """A selection whose chain starts at a raw variable (its numbers need converting)."""
        while node[0] in ("sel", "has"):
            node = node[1]
        return node[0] == "var" and node[1] in self.raw

    def require_bool(self, value: str, node: Node, depth: int) -> None:
        if not is_bool(node):
            self.emit(depth, f"if type({value}) is not bool: raise Delegate")

    def conditional(self, out: str, node: Node, depth: int) -> None:
        test = self.node(node[1], depth)
        self.require_bool(test, node[1], depth)
        self.emit(depth, f"if {test}:")
        self.emit(depth + 1, f"{out} = {self.node(node[2], depth + 1)}")
        self.emit(depth, "else:")
        self.emit(depth + 1, f"{out} = {self.node(node[3], depth + 1)}")

    def binary(self, out: str, op: str, left: Node, right: Node, depth: int) -> None:
        a = self.node(left, depth)
        if op in ("&&", "||"):
            stop = "False" if op == "&&" else "True"
            if left[0] == "lit":  # `is` needs a name, not a literal
                named = self.fresh()
                self.emit(depth, f"{named} = {a}")
                a = named
            self.require_bool(a, left, depth)
            self.emit(depth, f"if {a} is {stop}: {out} = {stop}")
            self.emit(depth, "else:")
            b = self.node(right, depth + 1)
            self.require_bool(b, right, depth + 1)
            self.emit(depth + 1, f"{out} = {b}")
            return
        b = self.node(right, depth)
        if op in ("==", "!=") and right[0] == "lit" and type(right[1]) in (str, bool, type(None)):
            # against a string, bool or null literal: equal only to the same type and value
            self.emit(depth, f"if type({a}) not in {_SCALARS}: raise Delegate")
            kind = "type(None)" if right[1] is None else type(right[1]).__name__
            self.emit(depth, f"{out} = type({a}) is {kind} and {a} == {b}")
            if op == "!=":
                self.emit(depth, f"{out} = not {out}")
        elif op in ("==", "!="):
            self.emit(depth, f"{out} = {_EQUALITY.format(a=a, b=b)}")
            if op == "!=":
                self.emit(depth, f"{out} = not {out}")
        elif op in ("<", "<=", ">", ">=") and float_literal(right):
            self.against_float(out, f"{a} {op} {b}", a, left, right[1], depth)
        elif op in ("<", "<=", ">", ">="):
            self.emit(depth, f"if {_NUMBERS.format(a=a, b=b)}:")
            self.emit(depth + 1, f"if not ({_COMPARABLE.format(a=a, b=b)}): raise Delegate")
            self.emit(depth + 1, f"{out} = {a} {op} {b}")
            self.emit(depth, f"elif type({a}) is str and type({b}) is str: {out} = {a} {op} {b}")
            self.emit(depth, "else: raise Delegate")
        elif (op != "/" and float in (static_type(left), static_type(right))) or (
            op == "/" and float_literal(right) and right[1] != 0.0
        ):
            # double arithmetic where one side is surely a double: only a double is defined
            for value, side in ((a, left), (b, right)):
                if static_type(side) is not float:
                    self.emit(depth, f"if type({value}) is not float: raise Delegate")
            self.emit(depth, f"{out} = {a} {op} {b}")
        elif op == "/":
            self.emit(depth, f"if type({a}) is not float or type({b}) is not float: raise Delegate")
            self.emit(depth, f"if {b} == 0.0: raise Delegate")
            self.emit(depth, f"{out} = {a} / {b}")
        else:
            self.emit(depth, f"if type({a}) is float and type({b}) is float: {out} = {a} {op} {b}")
            self.emit(depth, f"elif type({a}) is int and type({b}) is int:")
            self.emit(depth + 1, f"{out} = {a} {op} {b}")
            self.emit(depth + 1, f"if not INT64_MIN <= {out} <= INT64_MAX: raise Delegate")
            if op == "+":
                self.emit(depth, f"elif type({a}) is str and type({b}) is str: {out} = {a} + {b}")
            self.emit(depth, "else: raise Delegate")

    def against_float(
        self, out: str, test: str, a: str, left: Node, literal: float, depth: int
    ) -> None:
        """`a <op> literal` for a double literal: a double (not NaN) compares as is, an int
        only where it and the literal are exact as doubles; anything else is the library's."""
        if static_type(left) is float:
            self.emit(depth, f"if {a} != {a}: raise Delegate")
            self.emit(depth, f"{out} = {test}")
            return
        self.emit(depth, f"if type({a}) is float and {a} == {a}: {out} = {test}")
        if -_EXACT <= literal <= _EXACT:
            self.emit(depth, f"elif type({a}) is int and -EXACT <= {a} <= EXACT: {out} = {test}")
        self.emit(depth, "else: raise Delegate")


_MISSING = object()
_CEL_SHAPED = frozenset({float, str, bool, type(None), dict})
_RESULTS = frozenset({float, int, str, bool, type(None)})
_NUMBERS = "type({a}) in (float, int) and type({b}) in (float, int)"
_COMPARABLE = (
    "{a} == {a} and {b} == {b} and (type({a}) is type({b}) or "
    "(-EXACT <= {a} <= EXACT and -EXACT <= {b} <= EXACT))"
)
_SCALARS = "(str, bool, type(None), int, float)"
_EQUALITY = (
    "(({a} == {b}) if (" + _COMPARABLE + ") else fail()) if (" + _NUMBERS + ") "
    "else ((type({a}) is type({b}) and {a} == {b}) "
    "if type({a}) in " + _SCALARS + " and type({b}) in " + _SCALARS + " else fail())"
)


def runtime() -> dict[str, Any]:
    """The names generated code calls, as the globals it runs with."""
    return {
        "Delegate": Delegate,
        "Decimal": Decimal,
        "MISSING": _MISSING,
        "SHAPED": _CEL_SHAPED,
        "SCALARS": _RESULTS,
        "INT64_MIN": INT64_MIN,
        "INT64_MAX": INT64_MAX,
        "EXACT": _EXACT,
        "fail": _fail,
        "as_double": as_double,
    }


def _fail() -> Any:
    raise Delegate


def as_double(value: int) -> float:
    """An API integer as CEL's double: beyond a double's range it is an infinity, as a
    Decimal of that size becomes (float() would raise OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
