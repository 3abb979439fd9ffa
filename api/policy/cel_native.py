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
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

Native = Callable[[Mapping[str, Any]], Any]
Node = tuple[Any, ...]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_EXACT = 2**53  # beyond this an int and a double may compare differently in the library


class Delegate(Exception):
    """Let the CEL library decide: an error, or a case this evaluator does not cover."""


class _Unsupported(Exception):
    """The expression is outside the subset."""


def compile_native(source: str, raw: frozenset[str] = frozenset()) -> Native | None:
    """A native evaluator for `source`, or None when it is outside the subset."""
    try:
        parser = _Parser(_tokenize(source))
        tree = parser.expression()
        if parser.peek() is not None:
            raise _Unsupported("trailing input")
        return _Codegen(raw).function(tree)
    except (_Unsupported, RecursionError):
        return None


# --- parsing: CEL's grammar, precedence climbing, into tuples ---------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
    | (?P<int>\d+)(?![\w.])
    | (?P<string>"[^"\\\n]*"|'[^'\\\n]*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>&&|\|\||==|!=|<=|>=|[<>+\-*/!?:.()\[\]])
    )""",
    re.VERBOSE,
)
_RESERVED = frozenset({"in", "as", "break", "const", "continue", "else", "for", "function",
                       "if", "import", "let", "loop", "package", "namespace", "return", "var",
                       "void", "while"})  # fmt: skip
_LEVELS: list[tuple[str, ...]] = [
    ("||",),
    ("&&",),
    ("==", "!=", "<", "<=", ">", ">="),
    ("+", "-"),
    ("*", "/"),
]
_CONSTANTS = {"true": True, "false": False, "null": None}


def _tokenize(source: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while source[position:].strip():
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            raise _Unsupported(source[position:])
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (text is not None and token[1] != text):
            raise _Unsupported(f"expected {text}")
        self.at += 1
        return token

    def accept(self, *texts: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in texts:
            self.at += 1
            return token[1]
        return None

    def expression(self) -> Node:
        condition = self.binary(0)
        if self.accept("?") is None:
            return condition
        yes = self.binary(0)
        self.take(":")
        return ("cond", condition, yes, self.expression())

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self.accept(*_LEVELS[level])) is not None:
            left = ("bin", op, left, self.binary(level + 1))
        return left

    def unary(self) -> Node:
        if self.accept("!"):
            return ("not", self.unary())
        if self.accept("-"):
            return ("neg", self.unary())
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.accept("."):
                kind, name = self.take()
                if kind != "name" or self.peek() == ("op", "("):
                    raise _Unsupported("method call")
                node = ("sel", node, name)
            elif self.accept("["):
                kind, text = self.take()
                if kind != "string":
                    raise _Unsupported("index")
                self.take("]")
                node = ("sel", node, text[1:-1])
            else:
                return node

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "float":
            number = float(text)
            if math.isinf(number):
                raise _Unsupported(text)
            return ("lit", number)
        if kind == "int":
            if int(text) > INT64_MAX:
                raise _Unsupported(text)
            return ("lit", int(text))
        if kind == "string":
            return ("lit", text[1:-1])
        if kind == "op" and text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind != "name" or text in _RESERVED:
            raise _Unsupported(text)
        if text in _CONSTANTS:
            return ("lit", _CONSTANTS[text])
        if self.peek() == ("op", "("):
            if text != "has":
                raise _Unsupported(f"function {text}")
            self.take("(")
            target = self.member()
            self.take(")")
            if target[0] != "sel":
                raise _Unsupported("has() needs a field selection")
            return ("has", target[1], target[2])
        return ("var", text)


# --- code generation: one function per expression --------------------------------------------


class _Codegen:
    """Statements computing each node into a fresh local; any doubt raises Delegate.

    Raising Delegate is always safe (the library then decides), so checks may be hoisted or
    strengthened freely; what the generated code must never do is return a value the library
    would not. Types known from the parse tree (literals, comparisons) drop the checks that
    cannot fail."""

    def __init__(self, raw: frozenset[str]) -> None:
        self.raw = raw
        self.lines: list[str] = []
        self.count = 0
        self.variables: dict[str, str] = {}
        self.holders: frozenset[str] = frozenset()

    def function(self, tree: Node) -> Native:
        self.holders = _holder_only(tree)
        result = self.node(tree, 1)
        prologue = []
        for name, local in self.variables.items():
            prologue.append(f"    {local} = v.get({name!r}, MISSING)")
            if name in self.holders:  # only ever selected from: it must be a map
                prologue.append(f"    if type({local}) is not dict: raise Delegate")
        # a map as the result would be the raw value, not CEL's view of it: the library says
        if _static(tree) not in _RESULTS:
            self.emit(1, f"if type({result}) not in SCALARS: raise Delegate")
        body = "\n".join(prologue + self.lines)
        source = f"def native(v):\n{body}\n    return {result}\n"
        namespace: dict[str, Any] = {
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
        exec(compile(source, "<cel>", "exec"), namespace)  # noqa: S102 - our own source
        function: Native = namespace["native"]
        return function

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
        if not _is_bool(node):
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
        elif op in ("<", "<=", ">", ">=") and _float_literal(right):
            self.against_float(out, f"{a} {op} {b}", a, left, right[1], depth)
        elif op in ("<", "<=", ">", ">="):
            self.emit(depth, f"if {_NUMBERS.format(a=a, b=b)}:")
            self.emit(depth + 1, f"if not ({_COMPARABLE.format(a=a, b=b)}): raise Delegate")
            self.emit(depth + 1, f"{out} = {a} {op} {b}")
            self.emit(depth, f"elif type({a}) is str and type({b}) is str: {out} = {a} {op} {b}")
            self.emit(depth, "else: raise Delegate")
        elif (op != "/" and float in (_static(left), _static(right))) or (
            op == "/" and _float_literal(right) and right[1] != 0.0
        ):
            # double arithmetic where one side is surely a double: only a double is defined
            for value, side in ((a, left), (b, right)):
                if _static(side) is not float:
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
        if _static(left) is float:
            self.emit(depth, f"if {a} != {a}: raise Delegate")
            self.emit(depth, f"{out} = {test}")
            return
        self.emit(depth, f"if type({a}) is float and {a} == {a}: {out} = {test}")
        if -_EXACT <= literal <= _EXACT:
            self.emit(depth, f"elif type({a}) is int and -EXACT <= {a} <= EXACT: {out} = {test}")
        self.emit(depth, "else: raise Delegate")


def _float_literal(node: Node) -> bool:
    return node[0] == "lit" and type(node[1]) is float


def _static(node: Node) -> type | None:
    """The Python type a node has whenever it does not raise, when the tree alone says."""
    if node[0] == "lit":
        return type(node[1])
    if _is_bool(node):
        return bool
    if node[0] == "bin" and node[1] in ("+", "-", "*", "/"):
        # `/` only ever gives a double here, and so does arithmetic with a double operand
        return float if node[1] == "/" or float in (_static(node[2]), _static(node[3])) else None
    if node[0] == "neg" and _static(node[1]) is float:
        return float
    if node[0] == "cond":
        yes = _static(node[2])
        return yes if yes is not None and yes is _static(node[3]) else None
    return None


def _holder_only(tree: Node) -> frozenset[str]:
    """Variables the expression only ever selects from (never uses as a value itself)."""
    selected, used = set(), set()

    def walk(node: Node) -> None:
        if node[0] == "lit":
            return
        if node[0] == "var":
            used.add(node[1])
            return
        if node[0] in ("sel", "has") and node[1][0] == "var":
            selected.add(node[1][1])
            return
        for child in node[1:]:
            if isinstance(child, tuple):
                walk(child)

    walk(tree)
    return frozenset(selected - used)


def _is_bool(node: Node) -> bool:
    """Nodes whose value is a bool whenever they do not raise."""
    if node[0] in ("has", "not"):
        return True
    if node[0] == "lit":
        return type(node[1]) is bool
    return node[0] == "bin" and node[1] in ("&&", "||", "==", "!=", "<", "<=", ">", ">=")


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


def _fail() -> Any:
    raise Delegate


def as_double(value: int) -> float:
    """An API integer as CEL's double: beyond a double's range it is an infinity, as a
    Decimal of that size becomes (float() would raise OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
