"""The Salesforce profile: committed and served, built from the active policy, and clean under
a checker of External Services' import rules; the checker itself fails on each rule."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from api.app import openapi_document
from api.http.fields import DECIMAL_IN_PATTERN
from api.http.salesforce import salesforce_profile
from api.policy.loader import PolicySet
from api.policy.model import Lever
from tests.http.import_rules import violations

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def profile(app: Flask) -> dict[str, Any]:
    return openapi_document(app, "salesforce")


def test_committed_profile_matches_generated(profile: dict[str, Any]) -> None:
    committed = yaml.safe_load((ROOT / "openapi-salesforce.yaml").read_text())
    assert committed == profile, "openapi-salesforce.yaml drifted: run `make openapi`"


def test_profile_is_served(client: FlaskClient, profile: dict[str, Any]) -> None:
    response = client.get("/openapi.yaml?profile=salesforce")
    assert (response.status_code, response.mimetype) == (200, "application/yaml")
    assert yaml.safe_load(response.data) == profile


def test_an_unknown_profile_is_a_422_naming_it(client: FlaskClient) -> None:
    response = client.get("/openapi.yaml?profile=mulesoft", headers={"Accept": "application/json"})
    assert (response.status_code, response.mimetype) == (422, "application/json")
    assert response.json["errors"] == {"profile": ["Must be one of: salesforce."]}


def test_profile_passes_every_import_rule(profile: dict[str, Any]) -> None:
    assert violations(profile) == []


def test_the_full_document_does_not_and_says_why(app: Flask) -> None:
    found = violations(openapi_document(app))
    assert any("media type application/problem+json" in v for v in found)
    assert any("media type text/csv" in v for v in found)
    assert any("oneOf" in v for v in found)
    assert any("free-form map" in v for v in found)


def test_errors_are_json_and_decimals_are_strings(profile: dict[str, Any]) -> None:
    responses = profile["components"]["responses"]
    assert all(list(r["content"]) == ["application/json"] for r in responses.values())
    deal = profile["components"]["schemas"]["DealIn"]
    assert deal["properties"]["list_amount"] == {
        "type": "string",
        "format": "decimal",
        "pattern": DECIMAL_IN_PATTERN,
    }
    assert "additionalProperties" not in deal
    export = profile["paths"]["/v1/overrides/export"]["get"]["responses"]["200"]["content"]
    assert list(export) == ["text/plain"]


def test_levers_and_terms_are_named_properties_of_the_active_policy(
    profile: dict[str, Any], shipped: PolicySet
) -> None:
    levers = [lever.name for lever in shipped.active.deal_levers]
    schemas = profile["components"]["schemas"]
    terms = schemas["OverrideIn"]["properties"]["terms"]
    assert list(terms["properties"]) == levers
    assert "additionalProperties" not in terms
    for name in ("terms_before", "terms_after"):
        after = schemas["OverrideOut"]["properties"][name]
        assert list(after["properties"]) == levers
        assert all(p["nullable"] and p["type"] == "string" for p in after["properties"].values())
    assert set(levers) <= set(schemas["DealIn"]["properties"])
    assert schemas["ApprovalRequestOut"]["properties"]["deal"] == {
        "$ref": "#/components/schemas/DealIn"
    }


def test_a_new_lever_in_the_policy_appears_in_the_profile(app: Flask, shipped: PolicySet) -> None:
    policy = shipped.active
    extra = Lever("services_credit_pct", "Services credit", policy.deal_levers[0].ceilings)
    changed = dataclasses.replace(policy, levers=(*policy.levers, extra))
    doc = salesforce_profile(openapi_document(app), changed)
    schemas = doc["components"]["schemas"]
    assert schemas["DealIn"]["properties"]["services_credit_pct"] == {
        "type": "string",
        "format": "decimal",
        "description": "Services credit",
    }
    assert "services_credit_pct" in schemas["OverrideIn"]["properties"]["terms"]["properties"]
    assert violations(doc) == []


# --- the checker fails on each rule ---------------------------------------------------------

GOOD: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/things": {
            "get": {
                "operationId": "listThings",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/T"}}
                        },
                    }
                },
            }
        }
    },
    "components": {"schemas": {"T": {"type": "object", "properties": {"n": {"type": "string"}}}}},
}


def _op(doc: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = doc["paths"]["/things"]["get"]
    return op


def _prop(doc: dict[str, Any]) -> dict[str, Any]:
    prop: dict[str, Any] = doc["components"]["schemas"]["T"]["properties"]
    return prop


BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("3.1", lambda d: d.update(openapi="3.1.0"), "openapi: '3.1.0' is not 3.0.x"),
    ("2.0", lambda d: d.update(openapi="2.0"), "openapi: '2.0' is not 3.0.x"),
    (
        "problem+json",
        lambda d: _op(d)["responses"]["200"].update(
            content={"application/problem+json": {"schema": {"type": "string"}}}
        ),
        "#/paths//things/get/responses/200: media type application/problem+json",
    ),
    (
        "xml",
        lambda d: _op(d).update(
            requestBody={"content": {"application/xml": {"schema": {"type": "string"}}}}
        ),
        "#/paths//things/get/requestBody: media type application/xml",
    ),
    (
        "not",
        lambda d: _prop(d)["n"].update({"not": {"type": "integer"}}),
        "#/components/schemas/T/properties/n: not",
    ),
    (
        "oneOf",
        lambda d: _prop(d).update(m={"oneOf": [{"type": "string"}, {"type": "number"}]}),
        "#/components/schemas/T/properties/m: oneOf|"
        "#/components/schemas/T/properties/m: schema without a type",
    ),
    (
        "anyOf",
        lambda d: _prop(d).update(m={"anyOf": [{"type": "string"}]}),
        "#/components/schemas/T/properties/m: anyOf|"
        "#/components/schemas/T/properties/m: schema without a type",
    ),
    (
        "untyped",
        lambda d: _prop(d).update(m={"description": "anything"}),
        "#/components/schemas/T/properties/m: schema without a type",
    ),
    (
        "free-form map",
        lambda d: _prop(d).update(m={"type": "object", "additionalProperties": True}),
        "#/components/schemas/T/properties/m: free-form map",
    ),
    (
        "properties and additionalProperties",
        lambda d: _prop(d).update(
            m={
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            }
        ),
        "#/components/schemas/T/properties/m: inline object with both properties and "
        "additionalProperties",
    ),
    (
        "nested arrays",
        lambda d: _prop(d).update(
            m={"type": "array", "items": {"type": "array", "items": {"type": "string"}}}
        ),
        "#/components/schemas/T/properties/m: nested anonymous array",
    ),
    (
        "OPTIONS",
        lambda d: d["paths"]["/things"].update(options=copy.deepcopy(_op(d))),
        "/things: method options is not GET, POST, PUT, PATCH or DELETE",
    ),
    (
        "HEAD",
        lambda d: d["paths"]["/things"].update(head=copy.deepcopy(_op(d))),
        "/things: method head is not GET, POST, PUT, PATCH or DELETE",
    ),
    (
        "long description",
        lambda d: _op(d).update(description="x" * 1334),
        "#/paths//things/get: description of 1334 characters",
    ),
    ("no operationId", lambda d: _op(d).pop("operationId"), "get /things: no operationId"),
    (
        "untyped parameter",
        lambda d: _op(d).update(parameters=[{"in": "query", "name": "q", "schema": {}}]),
        "get /things/parameters/0/schema: schema without a type",
    ),
]


def test_the_checker_passes_the_good_document() -> None:
    assert violations(copy.deepcopy(GOOD)) == []
    long_enough = copy.deepcopy(GOOD)
    _op(long_enough)["description"] = "x" * 1333
    assert violations(long_enough) == []


@pytest.mark.parametrize(
    ("mutate", "expected"), [b[1:] for b in BREAKS], ids=[b[0] for b in BREAKS]
)
def test_the_checker_fails_on_each_rule(
    mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    doc = copy.deepcopy(GOOD)
    mutate(doc)
    assert violations(doc) == expected.split("|")
