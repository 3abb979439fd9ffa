"""Policies in force: list (with shadow agreement), reload, and simulate a candidate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from api.http.auth import Scope, current_key, requires
from api.http.body import json_body
from api.http.context import runtime
from api.http.replies import reply
from api.http.schemas import PoliciesPage, SimulateIn, SimulateOut
from api.http.spec import body, problems
from api.http.uow import unit_of_work
from api.policy.decision import iso_utc
from api.policy.loader import parse_policy
from api.runtime import Runtime
from api.service.replay import replay
from api.storage.decisions import agreement

blp = Blueprint("policies", __name__, description="The policies in force, reload and simulate")
SIMULATE_IN = SimulateIn()


def _listing(rt: Runtime) -> dict[str, Any]:
    loaded_at = iso_utc(rt.policies.loaded_at)
    shadows = rt.policies.current.shadows
    seen: dict[str, tuple[int, int]] = {}
    if shadows:
        with unit_of_work() as conn:
            seen = agreement(conn, [p.sha256 for p in shadows])
    items = []
    for policy in rt.policies.current.all:
        share = None
        if policy in shadows:
            total, agreed = seen.get(policy.sha256, (0, 0))
            rate = str((Decimal(agreed) / total).quantize(Decimal("0.0001"))) if total else None
            share = {"decisions": total, "agreed": agreed, "rate": rate}
        items.append(
            {
                "name": policy.name,
                "version": policy.version,
                "sha256": policy.sha256,
                "status": policy.status.value,
                "loaded_at": loaded_at,
                "agreement": share,
            }
        )
    return {"items": items, "next_cursor": None}


@blp.route("/v1/policies", methods=["GET"])
@blp.doc(operationId="listPolicies")
@requires(Scope.POLICIES)
@blp.response(200, PoliciesPage)
@problems(blp, 503)
def index() -> Response:
    """The active policy and any shadows, with each shadow's agreement rate so far."""
    return reply(_listing(runtime()))


@blp.route("/v1/policies/reload", methods=["POST"])
@blp.doc(operationId="reloadPolicies")
@requires(Scope.ADMIN)
@blp.response(200, PoliciesPage)
@problems(blp, 422, 503)
def reload() -> Response:
    """Re-read the policy directory; a bad file is a 422 and the old policy stays in force."""
    rt = runtime()
    rt.reload(f"key:{current_key().name}")
    return reply(_listing(rt))


@blp.route("/v1/policies/simulate", methods=["POST"])
@blp.doc(operationId="simulatePolicy")
@requires(Scope.POLICIES)
@blp.doc(requestBody=body(SimulateIn))
@blp.response(200, SimulateOut)
@problems(blp, 400, 413, 415, 422, 503)
def simulate() -> Response:
    """Replay logged decisions under a candidate policy (YAML text): what would change."""
    data = json_body(SIMULATE_IN)
    candidate = parse_policy(data["policy"].encode(), "candidate")
    start = date.fromisoformat(data["from_"]) if data.get("from_") else None
    end = date.fromisoformat(data["to"]) if data.get("to") else None
    with unit_of_work() as conn:
        report = replay(conn, candidate, start, end)
    return reply(report)
