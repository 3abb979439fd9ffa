"""Every request example in openapi.yaml works, as written, against the org `make run` seeds
(`serve --demo`: api/service/demo.py and its history): the first call a newcomer tries from
/docs is answered, not refused. Actions run in an order that leaves each one something to do."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import openapi_document
from api.service.demo import seed_demo
from api.service.demo_history import seed_history
from api.storage.database import transaction

# (operationId, path with {id} for the resource made earlier, expected status, what it makes)
STEPS: list[tuple[str, str, int, str | None]] = [
    ("evaluateDeal", "/v1/evaluations", 200, None),
    ("putPerson", "/v1/people/demo.account_manager.two", 201, None),
    ("submitApprovalRequest", "/v1/approval-requests", 201, "request"),
    ("returnApprovalRequest", "/v1/approval-requests/{request}/return", 200, None),
    ("reviseApprovalRequest", "/v1/approval-requests/{request}/revise", 200, None),
    ("rejectApprovalRequest", "/v1/approval-requests/{request}/reject", 200, None),
    ("submitApprovalRequest", "/v1/approval-requests", 201, "request"),
    ("withdrawApprovalRequest", "/v1/approval-requests/{request}/withdraw", 200, None),
    ("submitApprovalRequest", "/v1/approval-requests", 201, "request"),
    ("approveApprovalRequest", "/v1/approval-requests/{request}/approve", 200, None),
    ("createOverride", "/v1/overrides", 201, "override"),
    ("acknowledgeOverride", "/v1/overrides/{override}/acknowledge", 200, None),
    ("createOverrideReview", "/v1/overrides/{override}/reviews", 201, None),
]


def examples(app: Flask) -> dict[str, dict[str, Any]]:
    """operationId -> its request body's example, for every operation that has one."""
    found = {}
    for item in openapi_document(app)["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media and "example" in media:
                found[operation["operationId"]] = media["example"]
    return found


@pytest.fixture()
def demo(app: Flask, pool: ConnectionPool) -> None:
    runtime = app.extensions["dealdesk"]
    policy = runtime.policies.active
    with transaction(pool) as conn:
        assert seed_demo(conn, policy)
        assert seed_history(conn, policy, runtime.today()) > 0


@pytest.mark.usefixtures("demo")
def test_every_documented_example_works_against_the_demo(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    bodies = examples(app)
    assert {op for op, *_ in STEPS} == set(bodies)  # a new example needs a step here
    made: dict[str, str] = {}
    outcomes = []
    for operation, path, status, makes in STEPS:
        url = path.format(**made)
        method = client.put if operation == "putPerson" else client.post
        response = method(url, json=bodies[operation], headers=admin)
        assert response.status_code == status, (operation, response.json)
        if makes:
            made[makes] = response.json["id"]
        outcomes.append(response.json.get("state") or response.json.get("outcome"))
    assert outcomes == [
        "needs_approval",
        None,
        "pending",
        "returned",
        "pending",
        "rejected",
        "pending",
        "withdrawn",
        "pending",
        "approved",
        None,
        None,
        None,
    ]
