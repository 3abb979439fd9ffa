"""Dependencies point inward: the pure packages import no Flask, marshmallow or psycopg."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "api"
PURE = ("policy", "workflow", "audit", "reports", "events", "identity")
FORBIDDEN = (
    "flask",
    "flask_smorest",
    "marshmallow",
    "psycopg",
    "psycopg_pool",
    "webargs",
    "api.http",
    "api.storage",
    "api.service",
    "api.app",
    "api.runtime",
)


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path",
    [p for pkg in PURE for p in sorted((API / pkg).rglob("*.py"))],
    ids=lambda p: str(p.relative_to(API)),
)
def test_pure_packages_stay_pure(path: Path) -> None:
    bad = {n for n in imports(path) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_http_is_the_only_flask_user() -> None:
    users = {
        p.relative_to(API).parts[0]
        for p in API.rglob("*.py")
        if any(n.split(".")[0] in ("flask", "marshmallow", "flask_smorest") for n in imports(p))
    }
    assert users <= {"http", "console", "app.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(API.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in API.rglob("*.py")}


def api_imports(path: Path) -> set[str]:
    """The api.* modules a module imports anywhere in it: at the top, inside functions and
    under TYPE_CHECKING alike (`from api.x import y` counts as api.x.y when y is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {name for name in found if name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    done: set[str] = set()
    for start in sorted(graph):
        stack, on_path = [(start, iter(sorted(graph[start])))], [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.pop()
                done.add(node)
            elif child in on_path:
                return [*on_path[on_path.index(child) :], child]
            elif child not in done:
                stack.append((child, iter(sorted(graph[child]))))
                on_path.append(child)
    return None


def test_no_import_cycles_in_api() -> None:
    graph = {name: api_imports(path) - {name} for name, path in MODULES.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
    ],
    ids=["chain", "diamond", "two-module circle", "circle below the start"],
)
def test_find_cycle_reports_the_circle(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle
