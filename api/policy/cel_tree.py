"""The native evaluator's parse tree, and what the tree alone says about a node's type.

Nodes are tuples: ("lit", value), ("var", name), ("sel", node, field), ("has", node, field),
("not", node), ("neg", node), ("bin", op, left, right) and ("cond", test, yes, no). The code
generator uses these facts to drop the type checks that cannot fail."""

from __future__ import annotations

from typing import Any

Node = tuple[Any, ...]


def float_literal(node: Node) -> bool:
    return node[0] == "lit" and type(node[1]) is float


def static_type(node: Node) -> type | None:
    """The Python type a node has whenever it does not raise, when the tree alone says."""
    if node[0] == "lit":
        return type(node[1])
    if is_bool(node):
        return bool
    if node[0] == "bin" and node[1] in ("+", "-", "*", "/"):
        # `/` only ever gives a double here, and so does arithmetic with a double operand
        return (
            float
            if node[1] == "/" or float in (static_type(node[2]), static_type(node[3]))
            else None
        )
    if node[0] == "neg" and static_type(node[1]) is float:
        return float
    if node[0] == "cond":
        yes = static_type(node[2])
        return yes if yes is not None and yes is static_type(node[3]) else None
    return None


def holder_only(tree: Node) -> frozenset[str]:
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


def is_bool(node: Node) -> bool:
    """Nodes whose value is a bool whenever they do not raise."""
    if node[0] in ("has", "not"):
        return True
    if node[0] == "lit":
        return type(node[1]) is bool
    return node[0] == "bin" and node[1] in ("&&", "||", "==", "!=", "<", "<=", ">", ">=")
