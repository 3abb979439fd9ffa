"""Dependencies point inward: the pure packages import no Flask, marshmallow or psycopg."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "api"
PURE = ("policy", "workflow", "audit", "reports", "events")
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
