"""A checker of Salesforce External Services' import rules (shared/notes/salesforce-openapi.md):
violations(doc) names every place a document breaks one. Tested on small bad documents in
test_salesforce.py, so that each rule can fail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MEDIA_TYPES = {
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
}
METHODS = {"get", "post", "put", "patch", "delete"}
PATH_ITEM_KEYS = {"summary", "description", "parameters", "servers", "$ref"}
MAX_DESCRIPTION = 1333


def violations(doc: dict[str, Any]) -> list[str]:
    found: list[str] = []
    version = str(doc.get("openapi", ""))
    if not re.fullmatch(r"3\.0\.\d+", version):
        found.append(f"openapi: {version!r} is not 3.0.x")
    for path, item in doc.get("paths", {}).items():
        for key, op in item.items():
            if key in METHODS:
                if not op.get("operationId"):
                    found.append(f"{key} {path}: no operationId")
            elif key not in PATH_ITEM_KEYS:
                found.append(f"{path}: method {key} is not GET, POST, PUT, PATCH or DELETE")
    for where, content in _contents(doc, "#"):
        for media in content:
            if media not in MEDIA_TYPES:
                found.append(f"{where}: media type {media}")
    for where, schema, inline in _schemas(doc):
        found.extend(_schema_violations(where, schema, inline))
    for where, text in _descriptions(doc, "#"):
        if len(text) > MAX_DESCRIPTION:
            found.append(f"{where}: description of {len(text)} characters")
    return found


def _schema_violations(where: str, schema: dict[str, Any], inline: bool) -> list[str]:
    found = [f"{where}: {word}" for word in ("not", "oneOf", "anyOf") if word in schema]
    if "$ref" in schema:
        return found
    if "type" not in schema:
        found.append(f"{where}: schema without a type")
    extra = schema.get("additionalProperties")
    if extra is True or extra == {}:
        found.append(f"{where}: free-form map")
    if inline and "properties" in schema and extra not in (None, False):
        found.append(f"{where}: inline object with both properties and additionalProperties")
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict) and items.get("type") == "array":
        found.append(f"{where}: nested anonymous array")
    return found


def _contents(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "content" and isinstance(value, dict):
                yield where, value
            elif key not in ("example", "examples"):
                yield from _contents(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _contents(value, f"{where}/{i}")


def _descriptions(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield where, value
            elif key not in ("example", "examples"):
                yield from _descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _descriptions(value, f"{where}/{i}")


def _schemas(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """Every schema in a schema position, and whether it is inline (not a named component)."""
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        yield from _schema_tree(f"#/components/schemas/{name}", schema, inline=False)
    roots: list[tuple[str, Any]] = []
    for path, item in doc.get("paths", {}).items():
        for key, op in item.items():
            if isinstance(op, dict):
                roots.append((f"{key} {path}", op))
    for kind in ("responses", "parameters", "headers", "requestBodies"):
        for name, value in doc.get("components", {}).get(kind, {}).items():
            roots.append((f"#/components/{kind}/{name}", value))
    for where, root in roots:
        for at, schema in _schema_positions(root, where):
            yield from _schema_tree(at, schema, inline=True)


def _schema_positions(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The `schema` of parameters, headers and media types below an operation or component."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                yield f"{where}/schema", value
            elif key not in ("example", "examples"):
                yield from _schema_positions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schema_positions(value, f"{where}/{i}")


def _schema_tree(
    where: str, schema: dict[str, Any], *, inline: bool
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    yield where, schema, inline
    for name, sub in schema.get("properties", {}).items():
        yield from _schema_tree(f"{where}/properties/{name}", sub, inline=True)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict) and schema[key]:
            yield from _schema_tree(f"{where}/{key}", schema[key], inline=True)
    for key in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from _schema_tree(f"{where}/{key}/{i}", sub, inline=True)
