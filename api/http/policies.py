"""Policies in force: list (with shadow agreement), reload (publish), and simulate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from flask import Response
from flask_smorest import Blueprint

from api.errors import Conflict
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
from api.storage.policy_sets import set_in_force, stored_versions

blp = Blueprint("policies", __name__, description="The policies in force, publish and simulate")
SIMULATE_IN = SimulateIn()


def _listing(rt: Runtime, conn: psycopg.Connection) -> dict[str, Any]:
    """The set in force as the database says, so every worker and instance answers alike."""
    in_force = set_in_force(conn)
    if in_force.sha256s:
        rows = [
            (v.name, v.version, v.sha256, v.status) for v in stored_versions(conn, in_force.sha256s)
        ]
        loaded_at = in_force.published_at
    else:  # nothing published: what this process decides under
        held = rt.policies.held
        rows = [(p.name, p.version, p.sha256, p.status.value) for p in held.policies.all]
        loaded_at = held.loaded_at
    shadows = [sha for _, _, sha, status in rows if status == "shadow"]
    seen = agreement(conn, shadows) if shadows else {}
    items = []
    for name, version, sha, status in rows:
        share = None
        if status == "shadow":
            total, agreed = seen.get(sha, (0, 0))
            rate = str((Decimal(agreed) / total).quantize(Decimal("0.0001"))) if total else None
            share = {"decisions": total, "agreed": agreed, "rate": rate}
        items.append(
            {
                "name": name,
                "version": version,
                "sha256": sha,
                "status": status,
                "loaded_at": iso_utc(loaded_at) if loaded_at else None,
                "agreement": share,
            }
        )
    return {
        "items": items,
        "next_cursor": None,
        "generation": in_force.generation,
        "published_at": iso_utc(in_force.published_at) if in_force.published_at else None,
        "published_by": in_force.published_by,
    }


@blp.route("/v1/policies", methods=["GET"])
@blp.doc(operationId="listPolicies")
@requires(Scope.POLICIES)
@blp.response(200, PoliciesPage)
@problems(blp, 503)
def index() -> Response:
    """The policy set in force (active and shadows) and its generation, the same on every
    instance, with each shadow's agreement rate so far."""
    with unit_of_work() as conn:
        return reply(_listing(runtime(), conn))


@blp.route("/v1/policies/reload", methods=["POST"])
@blp.doc(operationId="reloadPolicies")
@requires(Scope.ADMIN)
@blp.response(200, PoliciesPage)
@problems(blp, 409, 422, 503)
def reload() -> Response:
    """Publish this instance's policy directory to every worker of every instance; a bad
    file is a 422 and the set in force stays. Publishing the set in force changes nothing.
    409 when this instance only follows the database (DEALDESK_POLICY_SOURCE=database)."""
    rt = runtime()
    if rt.settings.policy_source == "database":
        raise Conflict(
            "This instance follows the database (DEALDESK_POLICY_SOURCE=database); "
            "publish with `dealdesk policy publish DIR` or through another instance."
        )
    rt.publish_directory(current_key().actor)
    with unit_of_work() as conn:
        return reply(_listing(rt, conn))


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
