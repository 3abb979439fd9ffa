"""Liveness and readiness: /healthz never touches the database, /readyz does."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from api.http.context import runtime
from api.http.replies import reply
from api.http.schemas import Health
from api.storage.database import transaction

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


@blp.route("/healthz", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, Health)
def healthz() -> Response:
    return reply({"status": "ok"})


@blp.route("/readyz", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, Health)
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
def readyz() -> Response:
    """The database answers; `generation` is the policy set this worker now decides under
    (the probe itself catches the worker up when a publish has moved the set on)."""
    rt = runtime()
    with transaction(rt.quick) as conn:
        held = rt.policies.follow(conn)
    return reply({"status": "ready", "generation": held.generation})
