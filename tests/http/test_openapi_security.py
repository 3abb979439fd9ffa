"""What the OpenAPI documents say about access (a bearer key or an OAuth 2.0 client-credentials
token per operation, with the `scim` scope documented), `If-Match`'s declared pattern held to
what the server takes, and the links from created resources to their actions."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import create_app, openapi_document
from api.config import Settings
from api.policy.loader import PolicySet
from tests.http.conftest import deal

BASE = "/v1/approval-requests"


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: op
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }


@pytest.mark.parametrize("profile", [None, "salesforce"])
def test_keys_and_client_credentials_tokens_are_declared(app: Flask, profile: str | None) -> None:
    doc = openapi_document(app, profile)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "https://idp.example.com/oauth2/token"
    assert list(flow["scopes"]) == [
        f"dealdesk:{s}"
        for s in (
            *("evaluate", "requests", "approvals", "overrides", "audit:read", "audit:review"),
            *("people", "policies", "webhooks", "metrics", "scim", "admin"),
        )
    ]
    assert doc["security"] == [{"bearerAuth": []}, {"oauth2": []}]
    ops = by_id(doc)
    assert ops["evaluateDeal"]["security"] == [
        {"bearerAuth": []},
        {"oauth2": ["dealdesk:evaluate"]},
    ]
    assert ops["createOverrideReview"]["security"][1] == {"oauth2": ["dealdesk:audit:review"]}
    assert ops["reloadPolicies"]["security"][1] == {"oauth2": ["dealdesk:admin"]}
    assert ops["getHealth"]["security"] == []
    unsecured = [name for name, op in ops.items() if "security" not in op]
    assert unsecured == []


def test_the_token_url_comes_from_the_settings(
    settings: Settings, pool: ConnectionPool, shipped: PolicySet
) -> None:
    url = "https://example.okta.com/oauth2/aus1/v1/token"
    app = create_app(
        dataclasses.replace(settings, jwt_token_url=url), pool=pool, policy_set=shipped
    )
    flow = openapi_document(app)["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flow["clientCredentials"]["tokenUrl"] == url


def if_match_patterns(doc: dict[str, Any]) -> dict[str, str]:
    return {
        name: param["schema"]["pattern"]
        for name, op in by_id(doc).items()
        for param in op.get("parameters", [])
        if param.get("name") == "If-Match"
    }


def test_if_match_declares_the_pattern_the_server_takes(
    app: Flask, client: FlaskClient, admin: dict[str, str], org: Any
) -> None:
    patterns = if_match_patterns(openapi_document(app))
    assert sorted(patterns) == sorted(
        f"{verb}ApprovalRequest" for verb in ("approve", "reject", "return", "revise", "withdraw")
    )
    (pattern,) = set(patterns.values())
    rid = client.post(
        BASE, json={"deal": deal(discount_pct="18"), "requested_by": "am.jones"}, headers=admin
    ).json["id"]
    for value in ("9", '"9"', 'W/"9"', "123456789012345678"):
        assert re.match(pattern, value)
        response = client.post(
            f"{BASE}/{rid}/approve",
            json={"approver_id": "sd.patel"},
            headers={**admin, "If-Match": value},
        )
        assert response.status_code == 412
        assert response.json["detail"].startswith("The request is at version 1, not ")
    for value in ("abc", "²", "1.0", '""', "W/", "1234567890123456789", "*"):
        assert not re.match(pattern, value)
        response = client.post(
            f"{BASE}/{rid}/approve",
            json={"approver_id": "sd.patel"},
            headers={**admin, "If-Match": value},
        )
        assert response.status_code == 412
        assert response.json["errors"] == {"If-Match": ["Not a version number."]}


@pytest.mark.parametrize(
    ("source", "status", "param", "targets"),
    [
        (
            "submitApprovalRequest",
            "201",
            "request_id",
            [
                "getApprovalRequest",
                "approveApprovalRequest",
                "rejectApprovalRequest",
                "returnApprovalRequest",
                "reviseApprovalRequest",
                "withdrawApprovalRequest",
            ],
        ),
        (
            "createOverride",
            "201",
            "override_id",
            ["getOverride", "acknowledgeOverride", "createOverrideReview"],
        ),
        (
            "createWebhookSubscription",
            "201",
            "sub_id",
            [
                "getWebhookSubscription",
                "updateWebhookSubscription",
                "rotateWebhookSecret",
                "testWebhookSubscription",
                "deleteWebhookSubscription",
            ],
        ),
    ],
)
def test_created_resources_link_to_their_actions(
    app: Flask, source: str, status: str, param: str, targets: list[str]
) -> None:
    ops = by_id(openapi_document(app))
    links = ops[source]["responses"][status]["links"]
    assert list(links) == targets
    for target, link in links.items():
        assert link["operationId"] == target
        assert link["parameters"][param] == "$response.body#/id"
        path_params = [p["name"] for p in ops[target].get("parameters", []) if p["in"] == "path"]
        assert path_params in ([], [param])  # declared at the path level otherwise
    approve = links.get("approveApprovalRequest")
    if approve is not None:
        assert approve["parameters"]["header.If-Match"] == "$response.body#/version"


def test_the_salesforce_profile_leaves_links_out(app: Flask) -> None:
    profile = openapi_document(app, "salesforce")
    assert all(
        "links" not in response
        for op in by_id(profile).values()
        for response in op["responses"].values()
    )


def test_schemathesis_follows_the_links_to_every_action(app: Flask) -> None:
    """Its stateful phase reached none of the 14 actions before the links (issue 24)."""
    import schemathesis

    machine = schemathesis.openapi.from_dict(openapi_document(app)).as_state_machine()
    followed = {
        name.split("___201_")[1].split("__")[0] for name in dir(machine) if "___201_" in name
    }
    assert {
        *("approveApprovalRequest", "rejectApprovalRequest", "returnApprovalRequest"),
        *("reviseApprovalRequest", "withdrawApprovalRequest"),
        *("acknowledgeOverride", "createOverrideReview"),
        *("rotateWebhookSecret", "testWebhookSubscription", "updateWebhookSubscription"),
        "deleteWebhookSubscription",
    } <= followed
