"""The Salesforce profile: the same API in the OpenAPI subset External Services imports.

A pure pass over the finished document (see openapi.refine) and the active policy: errors
declared as application/json (which the server answers to such a client), CSV as text/plain,
decimals as plain `type: string`, no oneOf/anyOf, no free-form maps (`terms`, `terms_before`,
`terms_after` and the deal's levers become named properties of the policy's levers; the stored
deal is a DealIn; an event's free-form payload is left out), and every schema typed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from api.http.openapi import operations
from api.policy.model import Policy

MEDIA = {"application/problem+json": "application/json", "text/csv": "text/plain"}
REF = "#/components/schemas/"
TERMS = ("OverrideIn", "terms"), ("OverrideOut", "terms_before"), ("OverrideOut", "terms_after")
NOTE = (
    " This is the Salesforce External Services profile (GET /openapi.yaml?profile=salesforce): "
    "the same API, with errors as application/json, decimals as strings and the active "
    "policy's levers as named fields."
)


def salesforce_profile(document: dict[str, Any], policy: Policy) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    schemas: dict[str, Any] = doc["components"]["schemas"]
    _media_types(doc)
    for operation in operations(doc):
        for response in operation.get("responses", {}).values():
            response.pop("links", None)  # undocumented for External Services: left out
    for node in _nodes(doc):
        _plain_decimal(node)
    _levers(schemas, policy)
    _no_free_maps(schemas)
    for node in _nodes(doc):
        _typed(node, schemas)
    info = doc.setdefault("info", {})
    info["title"] = f"{info.get('title', 'dealdesk')} (Salesforce profile)"
    info["description"] = info.get("description", "") + NOTE
    return doc


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in the document, examples excluded, parents before children."""
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in ("example", "examples"):
                yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _media_types(doc: dict[str, Any]) -> None:
    for node in _nodes(doc):
        content = node.get("content")
        if isinstance(content, dict) and any(k in MEDIA for k in content):
            node["content"] = {MEDIA.get(k, k): v for k, v in content.items()}


def _plain_decimal(node: dict[str, Any]) -> None:
    """`oneOf: [decimal string, number]` -> the decimal string alone."""
    branches = node.get("oneOf")
    if isinstance(branches, list) and branches and branches[0].get("format") == "decimal":
        del node["oneOf"]
        node.update(branches[0])


def _decimal(lever_title: str, *, nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "format": "decimal", "description": lever_title}
    if nullable:
        schema["nullable"] = True
    return schema


def _levers(schemas: dict[str, Any], policy: Policy) -> None:
    deal = schemas["DealIn"]
    deal.pop("additionalProperties", None)
    props = deal["properties"]
    for lever in policy.deal_levers:
        props.setdefault(lever.name, _decimal(lever.title))
    for schema_name, prop in TERMS:
        before = schemas[schema_name]["properties"][prop]
        nullable = schema_name == "OverrideOut"
        named = {
            lever.name: _decimal(lever.title, nullable=nullable) for lever in policy.deal_levers
        }
        after: dict[str, Any] = {"type": "object", "properties": named}
        if "minProperties" in before:
            after["minProperties"] = before["minProperties"]
        schemas[schema_name]["properties"][prop] = after


def _no_free_maps(schemas: dict[str, Any]) -> None:
    schemas["AccountIn"].pop("additionalProperties", None)
    schemas["DealIn"]["properties"]["attributes"] = {
        "type": "object",
        "description": "Free-form text attributes, visible to policy conditions.",
        "additionalProperties": {"type": "string"},
    }
    schemas["ApprovalRequestOut"]["properties"]["deal"] = {"$ref": REF + "DealIn"}
    event = schemas["EventOut"]
    event["properties"].pop("payload", None)
    event["required"] = [r for r in event.get("required", []) if r != "payload"]
    event["description"] = "An audit event; its free-form payload is in the full openapi.yaml."


def _typed(node: dict[str, Any], schemas: dict[str, Any]) -> None:
    """An `allOf: [$ref]` wrapper gets the type of what it wraps."""
    parts = node.get("allOf")
    if isinstance(parts, list) and len(parts) == 1 and "type" not in node:
        target = schemas.get(str(parts[0].get("$ref", "")).removeprefix(REF), {})
        node["type"] = target.get("type", "object")
