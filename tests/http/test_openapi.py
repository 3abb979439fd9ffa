"""The committed openapi.yaml is exactly what the schemas generate (regenerate: make openapi)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from api.app import openapi_document
from api.http.fields import DECIMAL_IN_PATTERN, DECIMAL_OUT_PATTERN, Number

ROOT = Path(__file__).resolve().parents[2]


def test_committed_spec_matches_generated(app: Flask) -> None:
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert committed == openapi_document(app), "openapi.yaml drifted: run `make openapi`"


def test_spec_is_served(client: object, app: Flask) -> None:
    served = yaml.safe_load(client.get("/openapi.yaml").data)  # type: ignore[attr-defined]
    assert served == openapi_document(app)


# --- what generated clients and CPQ platforms rely on (issue 17) ---------------------------

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
CONTRACT_IDS = {
    ("post", "/v1/evaluations"): "evaluateDeal",
    ("post", "/v1/approval-requests"): "submitApprovalRequest",
    ("get", "/v1/approval-requests"): "listApprovalRequests",
    ("post", "/v1/approval-requests/{request_id}/approve"): "approveApprovalRequest",
    ("post", "/v1/overrides"): "createOverride",
    ("get", "/v1/overrides"): "listOverrides",
    ("get", "/v1/overrides/export"): "exportOverrides",
    ("get", "/metrics"): "getMetrics",
}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def schemas_in(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in ("example", "examples"):
                yield from schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from schemas_in(value)


@pytest.fixture()
def doc(app: Flask) -> dict[str, Any]:
    return openapi_document(app)


def test_every_operation_has_a_unique_camel_case_operation_id(app: Flask) -> None:
    """Also every operation added later: a view without @blp.doc(operationId=...) fails here.
    Walks the routes Flask serves, not just the document, so an undocumented view fails too."""
    doc = openapi_document(app)
    documented = {(m, p): op.get("operationId") for m, p, op in operations(doc)}
    missing = sorted(f"{m.upper()} {p}" for (m, p), op_id in documented.items() if not op_id)
    assert not missing, f"operations without an operationId: {missing}"
    ids = [i for i in documented.values() if i]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    assert all(CAMEL.match(i) for i in ids), [i for i in ids if not CAMEL.match(i)]
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("static", "api-docs")) or rule.rule in OPEN_DOCS:
            continue
        if rule.endpoint.startswith(("console.", "docs.", "scim.")) or rule.rule in (
            "/",
            "/favicon.ico",
        ):
            continue  # the console's pages, its icon, the docs page, SCIM (its own protocol)
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert documented.get((method.lower(), path)), f"{method} {path} is not documented"


OPEN_DOCS = {"/openapi.yaml", "/openapi.json", "/docs", "/docs/<path:filename>"}


def test_contract_operation_ids(doc: dict[str, Any]) -> None:
    for (method, path), op_id in CONTRACT_IDS.items():
        assert doc["paths"][path][method]["operationId"] == op_id


def test_operation_id_check_fails_on_a_missing_one(doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    del broken["paths"]["/v1/evaluations"]["post"]["operationId"]
    missing = [f"{m} {p}" for m, p, op in operations(broken) if not op.get("operationId")]
    assert missing == ["post /v1/evaluations"]


def test_integers_are_int64(doc: dict[str, Any]) -> None:
    integers = [s for s in schemas_in(doc) if s.get("type") == "integer"]
    assert len(integers) > 20
    assert all(s.get("format") == "int64" for s in integers)
    assert doc["components"]["schemas"]["EventsPage"]["properties"]["next_cursor"] == {
        "type": "integer",
        "format": "int64",
        "nullable": True,
    }
    after = next(
        p for p in doc["paths"]["/v1/audit/events"]["get"]["parameters"] if p["name"] == "after"
    )
    assert after["schema"]["format"] == "int64"


def test_decimals_are_string_first_with_format_and_pattern(doc: dict[str, Any]) -> None:
    deal_in = doc["components"]["schemas"]["DealIn"]["properties"]
    text, number = deal_in["list_amount"]["oneOf"]
    assert text == {"type": "string", "format": "decimal", "pattern": DECIMAL_IN_PATTERN}
    assert number == {"type": "number", "minimum": 0.0}
    finding = doc["components"]["schemas"]["FindingOut"]["properties"]
    assert finding["headroom"] == {
        "type": "string",
        "nullable": True,
        "format": "decimal",
        "pattern": DECIMAL_OUT_PATTERN,
    }
    terms = doc["components"]["schemas"]["OverrideIn"]["properties"]["terms"]
    assert terms["additionalProperties"]["oneOf"][0]["format"] == "decimal"
    assert (terms["minProperties"], terms["maxProperties"]) == (1, 50)
    assert not any(
        s.get("type") == "object" and ("minLength" in s or "maxLength" in s)
        for s in schemas_in(doc)
    )


# what the server accepts and refuses; the pattern must match exactly the plain ones accepted
DECIMALS = [
    ("0", True),
    ("250000.00", True),
    ("123456789012.1234567891", True),
    ("1" * 28, True),
    ("1" * 29, False),
    ("9" * 27 + ".9", True),
    ("9" * 27 + ".99", False),
    ("0." + "0" * 27 + "1", True),
    ("0." + "0" * 28 + "1", False),
    ("1." + "0" * 27, True),
    ("1." + "0" * 28, False),
    ("8.00000000000000001", True),
    ("-5", False),
    ("1e3", None),  # accepted by the server, not plain: outside the pattern
    ("007", None),
    ("12abc", False),
    ("", False),
]


def _served(text: str) -> bool:
    try:
        Number(minimum=0).deserialize(text)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("text", "accepted"), DECIMALS, ids=[d or "empty" for d, _ in DECIMALS])
def test_the_decimal_pattern_agrees_with_the_server(text: str, accepted: bool | None) -> None:
    matches = re.fullmatch(DECIMAL_IN_PATTERN, text) is not None
    if accepted is None:
        assert _served(text) and not matches
    else:
        assert (matches, _served(text)) == (accepted, accepted)


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    whole=st.text("0123456789", min_size=1, max_size=32),
    fraction=st.none() | st.text("0123456789", min_size=1, max_size=32),
)
def test_the_pattern_matches_a_plain_decimal_exactly_when_the_server_takes_it(
    whole: str, fraction: str | None
) -> None:
    if len(whole) > 1 and whole.startswith("0"):
        whole = whole.lstrip("0") or "0"  # plain form: no leading zeros
    text = whole if fraction is None else f"{whole}.{fraction}"
    assert (re.fullmatch(DECIMAL_IN_PATTERN, text) is not None) == _served(text), text


def test_nullable_nested_objects_are_allof_ref(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["PersonOut"]["properties"]["delegate"] == {
        "allOf": [{"$ref": "#/components/schemas/DelegateOut"}],
        "nullable": True,
    }
    assert schemas["PolicyOut"]["properties"]["agreement"]["allOf"] == [
        {"$ref": "#/components/schemas/AgreementOut"}
    ]
    assert not [s for s in schemas_in(doc) if "anyOf" in s]


def test_enums_are_named_components_shared_everywhere(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    named = {name for name, s in schemas.items() if "enum" in s}
    assert {"RequestState", "ReasonCode", "OverrideCategory", "ReviewStatus", "Outcome"} <= named
    inline = [s["enum"] for s in schemas_in(doc["paths"]) if "enum" in s]
    inline += [
        s["enum"]
        for name, top in schemas.items()
        if name not in named
        for s in schemas_in(top)
        if "enum" in s
    ]
    assert inline == [], "enums belong in named components"
    ref = {"$ref": "#/components/schemas/RequestState"}
    assert schemas["ApprovalRequestOut"]["properties"]["state"] == ref
    state = next(
        p
        for p in doc["paths"]["/v1/approval-requests"]["get"]["parameters"]
        if p["name"] == "state"
    )
    assert state["schema"] == ref
    assert schemas["OverrideIn"]["properties"]["reason_code"] == {
        "$ref": "#/components/schemas/ReasonCode"
    }


def test_responses_are_open_to_new_fields_requests_are_not(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    closed = sorted(n for n, s in schemas.items() if s.get("additionalProperties") is False)
    assert closed and all(n.endswith("In") for n in closed)
    assert "additionalProperties" not in schemas["ProblemOut"]
    assert "additionalProperties" not in schemas["ApprovalRequestOut"]


def test_headers_default_response_and_csv_are_declared(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    submitted = paths["/v1/approval-requests"]["post"]["responses"]["201"]["headers"]
    assert set(submitted) == {"ETag", "Location", "Idempotent-Replayed"}
    approved = paths["/v1/approval-requests/{request_id}/approve"]["post"]["responses"]["200"]
    assert set(approved["headers"]) == {"ETag", "Idempotent-Replayed"}
    assert set(doc["components"]["headers"]) == {
        "ETag",
        "Location",
        "IdempotentReplayed",
        "RetryAfter",
        "WWWAuthenticate",
    }
    assert doc["components"]["responses"]["SERVICE_UNAVAILABLE"]["headers"] == {
        "Retry-After": {"$ref": "#/components/headers/RetryAfter"}
    }
    for refusal in ("UNAUTHORIZED", "FORBIDDEN"):
        assert doc["components"]["responses"][refusal]["headers"] == {
            "WWW-Authenticate": {"$ref": "#/components/headers/WWWAuthenticate"}
        }
    assert "PaginationMetadata" not in doc["components"]["schemas"]
    for method, path, op in operations(doc):
        assert op["responses"]["default"] == {"$ref": "#/components/responses/DEFAULT_ERROR"}, (
            method,
            path,
        )
    listing = paths["/v1/overrides"]["get"]["responses"]["200"]["content"]
    assert list(listing) == ["application/json", "text/csv"]
    export = paths["/v1/overrides/export"]["get"]["responses"]["200"]["content"]
    assert list(export) == ["text/csv"]
    key = next(
        p
        for p in paths["/v1/approval-requests"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)


def test_property_names_a_generator_would_merge_make_a_map(doc: dict[str, Any]) -> None:
    """`"-5"` and `"5"` are one identifier to openapi-python-client, which then drops the
    schema and the report operation with it; as a typed map with its keys listed it works."""
    assert doc["components"]["schemas"]["BandCountsOut"] == {
        "type": "object",
        "additionalProperties": {"type": "integer", "format": "int64"},
        "description": "Keys: `-5`, `-4`, `-3`, `-2`, `-1`, `1`, `2`, `3`, `4`, `5`.",
    }
    categories = doc["components"]["schemas"]["CategoryCountsOut"]["properties"]
    assert "bypassed_owner" in categories, "names that stay distinct stay named properties"
