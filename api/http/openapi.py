"""The finishing pass over the generated OpenAPI document, for generated clients and CPQ tools.

apispec renders the marshmallow schemas; this pure pass (dict in, dict out) adds what apispec
cannot say on its own: named enum components shared by bodies, responses and query parameters,
`format: int64` on integers, `minProperties` for object sizes, nullable nested objects as
`allOf: [$ref]` + `nullable: true` (OpenAPI 3.0), response schemas open to new fields, the
`Idempotent-Replayed` header on every operation that takes an `Idempotency-Key`, and `links`
from a created request, override or subscription to its actions. Security schemes and each
operation's security are api/http/openapi_access.py's."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from api.events.types import ALL_TYPES, WILDCARD
from api.http.schemas import CATEGORIES, REQUEST_STATES, REVIEW_STATUSES
from api.http.schemas.notifications import NOTIFICATION_STATUSES
from api.http.schemas.webhooks import DELIVERY_STATUSES
from api.mail.recipients import MAILED
from api.reports.buckets import BUCKET_NAMES
from api.workflow.customer_no import WITHDRAW_REASON_CODES
from api.workflow.overrides import REASON_CODES

REF = "#/components/schemas/"

# name -> values, in the order the schemas declare them; a schema whose enum equals one of
# these becomes a $ref to it, so every generator makes one type per name
ENUMS: dict[str, list[str]] = {
    "ReasonCode": list(REASON_CODES),
    "RequestState": list(REQUEST_STATES),
    "StepState": ["pending", "approved", "rejected", "returned"],
    "FindingStatus": [
        "within",
        "needs_approval",
        "beyond_authority",
        "beyond_absolute_max",
        "not_requested",
    ],
    "Outcome": ["approved", "needs_approval", "denied"],
    "OverrideCategory": list(CATEGORIES),
    "ReviewStatus": list(REVIEW_STATUSES),
    "ReviewVerdict": list(REVIEW_STATUSES[1:]),
    "PolicyStatus": ["active", "shadow"],
    "SummaryGroupBy": ["executive", "owner", "fiscal_quarter"],
    "WithdrawReason": list(WITHDRAW_REASON_CODES),
    "PeriodEndBucket": list(BUCKET_NAMES),
    "ProximityGroupBy": ["tier", "owner"],
    "ApprovalTimesGroupBy": ["tier", "approver"],
    "EventType": list(ALL_TYPES),
    "EventTypeOrAll": [*ALL_TYPES, WILDCARD],
    "DeliveryStatus": list(DELIVERY_STATUSES),
    "NotificationStatus": list(NOTIFICATION_STATUSES),
    "MailedEventType": sorted(MAILED),
}
ENUM_NOTE = " Enumerations may gain values in later versions: treat an unknown value as `other`."

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The request\'s version, as `"<version>"`: send it back as `If-Match`.',
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "The path of the resource just created.",
        "schema": {"type": "string"},
    },
    "RetryAfter": {
        "description": "Seconds to wait before retrying while the database is unreachable.",
        "schema": {"type": "integer", "format": "int64"},
    },
    "WWWAuthenticate": {
        "description": "RFC 6750: `Bearer` for a key; for an access token `Bearer "
        'error="invalid_token", error_description="..."` (401) or `Bearer '
        'error="insufficient_scope", scope="dealdesk:<scope>"` (403).',
        "schema": {"type": "string"},
    },
    "IdempotentReplayed": {
        "description": "`true` when this is the stored first response to the same "
        "`Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
HEADER_NAMES = {
    "ETag": "ETag",
    "Location": "Location",
    "IdempotentReplayed": "Idempotent-Replayed",
    "RetryAfter": "Retry-After",
    "WWWAuthenticate": "WWW-Authenticate",
}


REQUEST_ACTIONS = (
    "approveApprovalRequest",
    "rejectApprovalRequest",
    "returnApprovalRequest",
    "reviseApprovalRequest",
    "withdrawApprovalRequest",
)
SUBSCRIPTION_ACTIONS = (
    "getWebhookSubscription",
    "updateWebhookSubscription",
    "rotateWebhookSecret",
    "testWebhookSubscription",
    "deleteWebhookSubscription",
)
OVERRIDE_ACTIONS = ("getOverride", "acknowledgeOverride", "createOverrideReview")
LINKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # source operation -> (its status, the targets' path parameter, the targets)
    "submitApprovalRequest": ("201", "request_id", ("getApprovalRequest", *REQUEST_ACTIONS)),
    "getApprovalRequest": ("200", "request_id", REQUEST_ACTIONS),
    **{a: ("200", "request_id", ("getApprovalRequest", *REQUEST_ACTIONS)) for a in REQUEST_ACTIONS},
    "createOverride": ("201", "override_id", OVERRIDE_ACTIONS),
    "getOverride": ("200", "override_id", OVERRIDE_ACTIONS[1:]),
    "createWebhookSubscription": ("201", "sub_id", SUBSCRIPTION_ACTIONS),
    "getWebhookSubscription": ("200", "sub_id", SUBSCRIPTION_ACTIONS[1:]),
    "getWebhookDelivery": ("200", "delivery_id", ("redeliverWebhookDelivery",)),
    "redeliverWebhookDelivery": ("202", "delivery_id", ("getWebhookDelivery",)),
}


def refine(document: dict[str, Any]) -> dict[str, Any]:
    """The document generated clients and CPQ platforms import (a new dict; input untouched)."""
    doc = copy.deepcopy(document)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in schemas.items():
        if not name.endswith("In") and schema.get("additionalProperties") is False:
            del schema["additionalProperties"]  # a field added later must not break clients
    schemas.pop("PaginationMetadata", None)  # flask-smorest's, for headers we do not send
    for schema in schemas.values():
        _map_if_names_collide(schema)
    _walk(doc, _finish_schema)
    for name, values in ENUMS.items():
        schemas[name] = {"type": "string", "enum": list(values)}
    headers = components.setdefault("headers", {})
    for name, header in HEADERS.items():
        headers[name] = copy.deepcopy(header)
    for operation in operations(doc):
        _declare_replay(operation)
    _link(doc)
    unavailable = components.get("responses", {}).get("SERVICE_UNAVAILABLE")
    if unavailable is not None:
        unavailable["headers"] = response_headers("RetryAfter")
    for name in ("UNAUTHORIZED", "FORBIDDEN"):
        refusal = components.get("responses", {}).get(name)
        if refusal is not None:
            refusal["headers"] = response_headers("WWWAuthenticate")
    info = doc.setdefault("info", {})
    info["description"] = info.get("description", "") + ENUM_NOTE
    return doc


def _link(doc: dict[str, Any]) -> None:
    by_id = {op.get("operationId"): op for op in operations(doc)}
    for source, (status, param, targets) in LINKS.items():
        response = by_id.get(source, {}).get("responses", {}).get(status)
        if response is None or "$ref" in response:
            continue
        links = {}
        for target in (t for t in targets if t in by_id):
            parameters = {param: "$response.body#/id"}
            if any(p.get("name") == "If-Match" for p in by_id[target].get("parameters", [])):
                parameters["header.If-Match"] = "$response.body#/version"
            links[target] = {"operationId": target, "parameters": parameters}
        if links:
            response["links"] = links


def operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation object of the document, in path order."""
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    return [op for item in doc.get("paths", {}).values() for m, op in item.items() if m in methods]


def header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def response_headers(*names: str) -> dict[str, dict[str, str]]:
    """`headers` for a view's response documentation, e.g. response_headers("ETag")."""
    return {HEADER_NAMES[n]: header_ref(n) for n in names}


def _declare_replay(operation: dict[str, Any]) -> None:
    params = operation.get("parameters", [])
    if not any(p.get("name") == "Idempotency-Key" for p in params):
        return
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2") and "$ref" not in response:
            response.setdefault("headers", {})["Idempotent-Replayed"] = header_ref(
                "IdempotentReplayed"
            )


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def _finish_schema(node: dict[str, Any]) -> None:
    """One schema (or any dict: only schema-shaped ones change)."""
    if node.get("type") == "integer" and "format" not in node:
        node["format"] = "int64"
    if node.get("type") == "object":
        for word in ("min", "max"):
            if f"{word}Length" in node:
                node[f"{word}Properties"] = node.pop(f"{word}Length")
    _nullable_ref(node)
    _enum_ref(node)


def _nullable_ref(node: dict[str, Any]) -> None:
    """apispec's `anyOf: [{type: object, nullable: true}, {$ref}]` -> `allOf: [$ref]`."""
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2:
        return
    refs = [b for b in branches if "$ref" in b]
    nulls = [b for b in branches if b.get("nullable") is True and "$ref" not in b]
    if len(refs) == 1 and len(nulls) == 1:
        del node["anyOf"]
        node["allOf"] = refs
        node["nullable"] = True


def _enum_ref(node: dict[str, Any]) -> None:
    values = node.get("enum")
    if node.get("type") != "string" or not isinstance(values, list):
        return
    name = next((n for n, v in ENUMS.items() if v == values), None)
    if name is None:
        return
    extras = {k: v for k, v in node.items() if k not in ("type", "enum")}
    node.clear()
    if extras:  # siblings of a $ref are ignored in 3.0: keep them beside an allOf
        node.update(allOf=[{"$ref": REF + name}], **extras)
    else:
        node["$ref"] = REF + name


def _map_if_names_collide(schema: dict[str, Any]) -> None:
    """Properties such as "-5" and "5" become one identifier in a generated client, which then
    drops the schema: describe such an object as a map of its value type, keys listed."""
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        return
    idents = [re.sub(r"\W", "", name).lower() for name in props]
    values = list(props.values())
    if len(set(idents)) == len(idents) or any(v != values[0] for v in values):
        return
    keys = ", ".join(f"`{name}`" for name in props)
    description = schema.get("description", "")
    schema.clear()
    schema.update(
        type="object",
        additionalProperties=values[0],
        description=(description + " " if description else "") + f"Keys: {keys}.",
    )
