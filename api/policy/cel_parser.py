"""CEL's grammar for the native evaluator's subset: tokens, then precedence climbing into a
tree of tuples (see cel_tree for the node shapes). Anything outside the subset raises
Unsupported, and the expression then always runs in the CEL library."""

from __future__ import annotations

import math
import re

from api.policy.cel_tree import Node

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Unsupported(Exception):
    """The expression is outside the subset."""


def parse(source: str) -> Node:
    """The tree of `source`, or Unsupported when it is outside the subset."""
    parser = _Parser(_tokenize(source))
    tree = parser.expression()
    if parser.peek() is not None:
        raise Unsupported("trailing input")
    return tree


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
            raise Unsupported(source[position:])
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
            raise Unsupported(f"expected {text}")
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
                    raise Unsupported("method call")
                node = ("sel", node, name)
            elif self.accept("["):
                kind, text = self.take()
                if kind != "string":
                    raise Unsupported("index")
                self.take("]")
                node = ("sel", node, text[1:-1])
            else:
                return node

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "float":
            number = float(text)
            if math.isinf(number):
                raise Unsupported(text)
            return ("lit", number)
        if kind == "int":
            if int(text) > INT64_MAX:
                raise Unsupported(text)
            return ("lit", int(text))
        if kind == "string":
            return ("lit", text[1:-1])
        if kind == "op" and text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind != "name" or text in _RESERVED:
            raise Unsupported(text)
        if text in _CONSTANTS:
            return ("lit", _CONSTANTS[text])
        if self.peek() == ("op", "("):
            if text != "has":
                raise Unsupported(f"function {text}")
            self.take("(")
            target = self.member()
            self.take(")")
            if target[0] != "sel":
                raise Unsupported("has() needs a field selection")
            return ("has", target[1], target[2])
        return ("var", text)
